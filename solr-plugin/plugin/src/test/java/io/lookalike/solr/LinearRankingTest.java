package io.lookalike.solr;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.function.Predicate;
import org.apache.lucene.search.Query;
import org.apache.solr.request.SolrQueryRequest;
import org.apache.solr.search.PostFilter;
import org.apache.solr.search.QParser;
import org.junit.BeforeClass;
import org.junit.Test;

/**
 * {@code {!visual weights=... bias=...}} on one node against a brute-force ranking by the score of
 * {@code w.x + b} (summed in the kernel's order, ties by id): adversarial vectors (ties, near ties,
 * both signs, sparse and non-negative, far from 0, huge), in 13 dimensions (no sketch), 64 (a
 * sketch and a tail) and 1024 (two sketch stages), filtered, paged, with and without pruning.
 * (AdversarialCloudTest and DistributedVisualSearchTest check the same on two shards.)
 */
public class LinearRankingTest extends AbstractVisualTestCase {

  private static final String[] FIELDS = {"vec13", "vec64", "vec1024"};
  private static final String[] CATEGORIES = {"red", "green", "blue"};
  private static final int DOCS = 150;
  private static final int DUPLICATES = 13;

  /** Field, then id, to vector; documents without a vector are absent. */
  private static final Map<String, Map<String, float[]>> VECTORS = new LinkedHashMap<>();

  private static final Map<String, String> CATEGORY = new LinkedHashMap<>();

  @BeforeClass
  public static void indexAdversarialVectors() throws Exception {
    initTestCore();
    List<String> ids = new ArrayList<>();
    for (int i = 0; i < DOCS; i++) {
      ids.add(String.format(Locale.ROOT, "d%03d", i));
    }
    for (int i = 0; i < DUPLICATES; i++) {
      ids.add(String.format(Locale.ROOT, "dup%02d", i));
    }
    Collections.shuffle(ids, random()); // internal doc ids in another order than the unique keys
    for (String field : FIELDS) {
      int dimension = Integer.parseInt(field.substring(3));
      float[] shared = TestVectors.random(random(), dimension);
      Map<String, float[]> vectors = new LinkedHashMap<>();
      for (String id : ids) {
        int i = id.startsWith("dup") ? -1 : Integer.parseInt(id.substring(1));
        if (i % 17 != 16) { // some documents have no vector
          vectors.put(id, i < 0 ? shared.clone() : vector(random(), i, shared));
        }
      }
      VECTORS.put(field, vectors);
    }
    int added = 0;
    for (String id : ids) {
      CATEGORY.put(id, CATEGORIES[random().nextInt(CATEGORIES.length)]);
      String[] fields = {"id", id, "category", CATEGORY.get(id)};
      for (String field : FIELDS) {
        float[] vector = VECTORS.get(field).get(id);
        if (vector != null) {
          fields = concat(fields, new String[] {field, VectorFormat.toBase64(vector)});
        }
      }
      assertU(adoc(fields));
      if (++added % 40 == 0) {
        assertU(commit()); // several segments
      }
    }
    assertU(commit());
  }

  /** Random, far from 0, sparse and non-negative, huge, or a few floats from a shared vector. */
  private static float[] vector(Random random, int i, float[] shared) {
    float[] vector = TestVectors.random(random, shared.length);
    for (int c = 0; c < vector.length; c++) {
      vector[c] =
          switch (i % 5) {
            case 0 -> vector[c];
            case 1 -> 1000f + vector[c];
            case 2 -> random.nextInt(4) == 0 ? Math.abs(vector[c]) : 0f;
            case 3 -> vector[c] * 1e15f;
            default -> c == 0 ? shared[0] + (i % 7) * Math.ulp(shared[0]) : shared[c];
          };
    }
    return vector;
  }

  @Test
  public void testPagesEqualBruteForce() throws Exception {
    float[] biases = {0f, -0.31f, 1e30f};
    for (String field : FIELDS) {
      Map<String, float[]> vectors = VECTORS.get(field);
      for (float bias : biases) {
        float[] weights = TestVectors.random(random(), vectors.values().iterator().next().length);
        for (int[] page : new int[][] {{0, 10}, {7, 9}, {35, 12}, {0, DOCS + DUPLICATES}}) {
          for (boolean pruning : new boolean[] {false, true}) {
            assertPage(field, weights, bias, null, id -> true, page, pruning);
            Predicate<String> red = id -> CATEGORY.get(id).equals("red");
            assertPage(field, weights, bias, "category:red", red, page, pruning);
          }
        }
      }
    }
  }

  /** Weights along the duplicated vector rank the duplicates first, all tied, in id order. */
  @Test
  public void testTiesComeInIdOrder() throws Exception {
    for (String field : FIELDS) {
      float[] weights = VECTORS.get(field).get("dup00").clone();
      for (int[] page : new int[][] {{0, 5}, {5, 12}, {3, 3}}) {
        assertPage(field, weights, 0f, "id:dup*", id -> id.startsWith("dup"), page, true);
        assertPage(field, weights, 0f, "id:dup*", id -> id.startsWith("dup"), page, false);
      }
    }
  }

  /** As a filter without a threshold, every document with a vector matches, cached or not. */
  @Test
  public void testFilterMatchesEveryDocumentWithAVector() throws Exception {
    for (String field : FIELDS) {
      String w = VectorFormat.toBase64(TestVectors.random(random(), dimension(field)));
      long withVectors = VECTORS.get(field).size();
      for (String cache : new String[] {"", " cache=false"}) {
        String fq = "{!visual f=" + field + " weights=$w bias=2" + cache + "}";
        assertEquals(withVectors, numFound(select("q", "*:*", "fq", fq, "w", w, "rows", "0")));
      }
      try (SolrQueryRequest request = req("w", w)) {
        String uncached = "{!visual f=" + field + " weights=$w cache=false}";
        Query parsed = QParser.getParser(uncached, request).getQuery();
        assertTrue(parsed.toString(), parsed instanceof PostFilter);
      }
      // a boolean query's required clause with a filter: ranked, and only the filter's documents
      Map<String, Object> response =
          select(
              "q", "{!bool must=$lin filter=$f}",
              "lin", "{!visual f=" + field + " weights=$w}",
              "f", "category:blue",
              "w", w,
              "fl", "id,score",
              "rows", "10");
      float[] weights = VectorFormat.parse(w, "w", dimension(field));
      Predicate<String> blue = id -> CATEGORY.get(id).equals("blue");
      assertEquals(
          TestVectors.highest(VECTORS.get(field), weights, 0f, blue, 0, 10), ids(response));
    }
  }

  private static int dimension(String field) {
    return Integer.parseInt(field.substring(3));
  }

  /**
   * Asserts a page equals the brute-force reference, each hit's score that of its value; with
   * {@code pruning}, with the collector's minimum competitive score ({@code minExactCount}).
   */
  private static void assertPage(
      String field,
      float[] weights,
      float bias,
      String fq,
      Predicate<String> accept,
      int[] page,
      boolean pruning)
      throws Exception {
    Map<String, float[]> vectors = VECTORS.get(field);
    String[] params = {
      "q", "{!visual f=" + field + " weights=$w bias=" + bias + "}",
      "w", random().nextBoolean() ? VectorFormat.toBase64(weights) : TestVectors.json(weights),
      "fl", "id,score",
      "start", String.valueOf(page[0]),
      "rows", String.valueOf(page[1])
    };
    if (fq != null) {
      params = concat(params, new String[] {"fq", fq});
    }
    if (pruning) {
      params = concat(params, new String[] {"minExactCount", String.valueOf(page[0] + page[1])});
    }
    Map<String, Object> response = select(params);
    String where = field + " bias=" + bias + " fq=" + fq + " page=" + page[0] + "+" + page[1];
    List<String> expected = TestVectors.highest(vectors, weights, bias, accept, page[0], page[1]);
    assertEquals(where, expected, ids(response));
    if (pruning == false) {
      assertEquals(where, vectors.keySet().stream().filter(accept).count(), numFound(response));
    }
    for (Map<String, Object> doc : docs(response)) {
      String id = (String) doc.get("id");
      float score = (float) doubleField(doc, "score");
      TestVectors.assertLinearScore(where + " " + id, weights, bias, vectors.get(id), score);
    }
  }
}
