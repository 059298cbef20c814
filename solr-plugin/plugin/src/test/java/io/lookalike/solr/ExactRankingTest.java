package io.lookalike.solr;

import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.junit.BeforeClass;
import org.junit.Test;

/**
 * Ranking is by the exact float distance and ties go by unique key, on one node: exact duplicates
 * of the query, near duplicates a few float bits apart, pages anywhere, with and without pruning.
 * (DistributedVisualSearchTest checks the same on two shards.)
 */
public class ExactRankingTest extends AbstractVisualTestCase {

  private static final int[] DIMENSIONS = {16, 2048}; // without and with a sketch
  private static final int DUPLICATES = 13;

  /** Field, then id, to vector. */
  private static final Map<String, Map<String, float[]>> VECTORS = new LinkedHashMap<>();

  /** Per field: the vector duplicated, and the query next to a near-duplicate pair. */
  private static final Map<String, float[]> DUPLICATED = new LinkedHashMap<>();

  private static final Map<String, float[]> NEAR_QUERY = new LinkedHashMap<>();

  @BeforeClass
  public static void indexDuplicates() throws Exception {
    initTestCore();
    List<String> ids = new ArrayList<>();
    for (int i = 0; i < 60; i++) {
      ids.add(String.format(Locale.ROOT, "r%02d", i));
    }
    for (int i = 0; i < DUPLICATES; i++) {
      ids.add(String.format(Locale.ROOT, "dup%02d", i));
    }
    ids.add("near1");
    ids.add("near2");
    // internal doc ids in another order than the unique keys, over several segments
    Collections.shuffle(ids, random());
    for (int dimension : DIMENSIONS) {
      String field = "vec" + dimension;
      float[] duplicated = TestVectors.random(random(), dimension);
      float[] query = TestVectors.random(random(), dimension);
      query[0] = 0f; // so that the near duplicates' component 0 is their exact difference
      DUPLICATED.put(field, duplicated);
      NEAR_QUERY.put(field, query);
      Map<String, float[]> vectors = new LinkedHashMap<>();
      for (String id : ids) {
        float[] vector;
        if (id.startsWith("dup")) {
          vector = duplicated.clone();
        } else if (id.startsWith("near")) {
          // near1 is farther than near2 by a few bits of its distance: 1 / (1 + d) cannot tell
          vector = query.clone();
          float offset = 1e-3f;
          vector[0] = id.equals("near1") ? Math.nextUp(Math.nextUp(offset)) : offset;
        } else {
          vector = TestVectors.random(random(), dimension);
        }
        vectors.put(id, vector);
      }
      VECTORS.put(field, vectors);
    }
    int added = 0;
    for (String id : ids) {
      // a keyword for hybrid queries, in about half the documents, up to three times
      String[] fields = {"id", id, "text", "doc" + " kw".repeat(random().nextInt(6) / 2)};
      for (String field : VECTORS.keySet()) {
        fields = concat(fields, new String[] {field, VectorFormat.toBase64(VECTORS.get(field).get(id))});
      }
      assertU(adoc(fields));
      if (++added % 20 == 0) {
        assertU(commit());
      }
    }
    assertU(commit());
  }

  @Test
  public void testExactDuplicatesComeInUniqueKeyOrderOnEveryPage() throws Exception {
    for (String field : VECTORS.keySet()) {
      float[] query = DUPLICATED.get(field);
      assertPage(field, query, 0, 5);
      assertPage(field, query, 5, 12);
      assertPage(field, query, 10, 10);
    }
  }

  @Test
  public void testNearDuplicatesRankByTheirTrueDistance() throws Exception {
    for (String field : VECTORS.keySet()) {
      float[] query = NEAR_QUERY.get(field);
      Map<String, float[]> vectors = VECTORS.get(field);
      float near = TestVectors.sqdistFloat(query, vectors.get("near2"));
      float far = TestVectors.sqdistFloat(query, vectors.get("near1"));
      assertTrue(near + " < " + far, near < far);
      assertEquals("the similarity score ties", TestVectors.similarity(near), TestVectors.similarity(far), 0f);
      assertEquals(List.of("near2", "near1"), assertPage(field, query, 0, 2).subList(0, 2));
      assertPage(field, query, 1, 7);
    }
  }

  /** Inside a boolean query with a filter clause, the score is the visual one, exactly. */
  @Test
  public void testTiesInsideABooleanQueryWithAFilter() throws Exception {
    for (String field : VECTORS.keySet()) {
      float[] query = DUPLICATED.get(field);
      Map<String, float[]> vectors = VECTORS.get(field);
      List<String> expected =
          TestVectors.nearest(vectors, query, id -> id.startsWith("r"), 0, 5);
      expected.addAll(0, TestVectors.nearest(vectors, query, id -> id.startsWith("dup"), 3, 4));
      Map<String, Object> response =
          select(
              "q", "{!bool must=$vis filter=$f}",
              "vis", "{!visual f=" + field + " v=$qv}",
              "f", "id:dup03 OR id:dup04 OR id:dup05 OR id:dup06 OR id:r*",
              "qv", VectorFormat.toBase64(query),
              "fl", "id,score",
              "rows", "9");
      assertEquals(field, expected, ids(response));
      for (Map<String, Object> doc : docs(response)) {
        float distance = TestVectors.sqdistFloat(query, vectors.get((String) doc.get("id")));
        assertFloat("score of " + doc, TestVectors.score(distance), doc, "score");
      }
    }
  }

  /** A random query, so that the rank ties nothing: the same as before. */
  @Test
  public void testRandomQueriesStillEqualBruteForce() throws Exception {
    for (String field : VECTORS.keySet()) {
      float[] query = TestVectors.random(random(), VECTORS.get(field).values().iterator().next().length);
      assertPage(field, query, 0, 10);
      assertPage(field, query, 3, 4);
    }
  }

  /**
   * A hybrid of keywords and similarity: the page with the collector's pruning ({@code
   * minExactCount}: Lucene's MaxScore over the visual clause's block maxima) equals the page
   * without, and the brute force of keyword score plus similarity, equal sums in id order.
   */
  @Test
  public void testHybridPagesEqualBruteForceWithAndWithoutPruning() throws Exception {
    Map<String, Float> keywordScores = new LinkedHashMap<>();
    Map<String, Object> keywords = select("q", "text:kw^10", "fl", "id,score", "rows", "999");
    for (Map<String, Object> doc : docs(keywords)) {
      keywordScores.put((String) doc.get("id"), (float) doubleField(doc, "score"));
    }
    for (String field : VECTORS.keySet()) {
      Map<String, float[]> vectors = VECTORS.get(field);
      float[] query = NEAR_QUERY.get(field);
      Map<String, Float> sums = new LinkedHashMap<>();
      for (String id : vectors.keySet()) {
        float similarity = TestVectors.similarity(TestVectors.sqdistFloat(query, vectors.get(id)));
        sums.put(id, (float) ((double) keywordScores.getOrDefault(id, 0f) + similarity));
      }
      List<String> expected = new ArrayList<>(sums.keySet());
      expected.sort(Comparator.comparing((String id) -> -sums.get(id)).thenComparing(id -> id));
      String[] params = {
        "q", "{!bool should=$kw should=$vis}",
        "kw", "text:kw^10",
        "vis", "{!visual f=" + field + " score=similarity v=$qv}",
        "qv", VectorFormat.toBase64(query),
        "fl", "id,score",
        "rows", "10"
      };
      Map<String, Object> complete = select(params);
      Map<String, Object> pruned = select(concat(params, new String[] {"minExactCount", "10"}));
      assertEquals(field, expected.subList(0, 10), ids(complete));
      assertEquals(field, docs(complete), docs(pruned));
      for (Map<String, Object> doc : docs(complete)) {
        assertFloat(field + " score of " + doc, sums.get((String) doc.get("id")), doc, "score");
      }
    }
  }

  /**
   * While a document has an uncommitted update, then an uncommitted delete, {@code id=} ranks
   * against its committed vector, the same list as {@code v=} that vector.
   */
  @Test
  public void testQueriesByIdUseTheCommittedVector() throws Exception {
    Map<String, float[]> vectors = new LinkedHashMap<>(VECTORS.get("vec16"));
    float[] committed = TestVectors.random(random(), 16);
    vectors.put("zmoving", committed);
    try {
      assertU(adoc("id", "zmoving", "vec16", TestVectors.json(committed)));
      assertU(commit());
      assertU(adoc("id", "zmoving", "vec16", TestVectors.json(TestVectors.random(random(), 16))));
      assertRanksAgainst(committed, vectors);
      assertU(delI("zmoving"));
      assertRanksAgainst(committed, vectors);
    } finally {
      assertU(delI("zmoving"));
      assertU(commit());
    }
  }

  private static void assertRanksAgainst(float[] point, Map<String, float[]> vectors)
      throws Exception {
    for (int start : new int[] {0, 5}) {
      String[] page = {"fl", "id,score", "start", String.valueOf(start), "rows", "12"};
      Map<String, Object> byId = select(concat(page, new String[] {"q", "{!visual f=vec16 id=zmoving}"}));
      Map<String, Object> byVector =
          select(concat(page, new String[] {"q", "{!visual f=vec16 v=$qv}", "qv", TestVectors.json(point)}));
      assertEquals(TestVectors.nearest(vectors, point, id -> true, start, 12), ids(byId));
      assertEquals(docs(byVector), docs(byId));
    }
  }

  /**
   * Asserts the page of {@code rows} from {@code start} equals the brute-force reference, with the
   * exact distances and rank scores, with and without the collector's pruning; returns its ids.
   */
  private static List<String> assertPage(String field, float[] query, int start, int rows)
      throws Exception {
    Map<String, float[]> vectors = VECTORS.get(field);
    List<String> expected = TestVectors.nearest(vectors, query, id -> true, start, rows);
    String[] params = {
      "q", "{!visual f=" + field + " v=$qv}",
      "qv", VectorFormat.toBase64(query),
      "fl", "id,score,d:sqdist(" + field + ",$qv)",
      "start", String.valueOf(start),
      "rows", String.valueOf(rows)
    };
    Map<String, Object> complete = select(params);
    Map<String, Object> pruned =
        select(concat(params, new String[] {"minExactCount", String.valueOf(start + rows)}));
    String page = field + " start=" + start + " rows=" + rows;
    assertEquals(page, expected, ids(complete));
    assertEquals(page, docs(complete), docs(pruned));
    for (Map<String, Object> doc : docs(complete)) {
      float distance = TestVectors.sqdistFloat(query, vectors.get((String) doc.get("id")));
      assertFloat(page + " sqdist of " + doc, distance, doc, "d");
      assertFloat(page + " score of " + doc, TestVectors.score(distance), doc, "score");
    }
    return expected;
  }
}
