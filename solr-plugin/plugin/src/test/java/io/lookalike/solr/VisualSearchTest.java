package io.lookalike.solr;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.function.Predicate;
import org.apache.lucene.search.Query;
import org.apache.solr.request.SolrQueryRequest;
import org.apache.solr.search.PostFilter;
import org.apache.solr.search.QParser;
import org.junit.BeforeClass;
import org.junit.Test;

/** Search results of {!visual} and sqdist() against a brute-force reference on random vectors. */
public class VisualSearchTest extends AbstractVisualTestCase {

  private static final int DOCS = 300;
  private static final int[] DIMENSIONS = {4, 16, 64, 2048};
  private static final String[] CATEGORIES = {"red", "green", "blue"};
  private static final String[] WORDS = {"shirt", "shoe", "bag"};

  /** Field name, then document id, to vector; documents without a vector are absent. */
  private static final Map<String, Map<String, float[]>> VECTORS = new HashMap<>();

  private static final Map<String, String> CATEGORY = new HashMap<>();
  private static final Map<String, String> WORD = new HashMap<>();
  private static final Map<String, Integer> PRICE = new HashMap<>();

  @BeforeClass
  public static void indexCorpus() throws Exception {
    initTestCore();
    StringBuilder json = new StringBuilder("[");
    for (int i = 0; i < DOCS; i++) {
      String id = String.format(Locale.ROOT, "doc%03d", i);
      String category = CATEGORIES[random().nextInt(CATEGORIES.length)];
      String word = WORDS[random().nextInt(WORDS.length)];
      CATEGORY.put(id, category);
      WORD.put(id, word);
      int price = random().nextInt(50); // with ties, broken by id
      PRICE.put(id, price);
      String fields =
          "{\"id\": \"%s\", \"category\": \"%s\", \"text\": \"%s %s\", \"price_i\": %d";
      json.append(i == 0 ? "" : ",\n")
          .append(String.format(Locale.ROOT, fields, id, category, category, word, price));
      for (int dimension : DIMENSIONS) {
        if (i % 11 == 0 || (dimension == 2048 && i % 2 == 1)) {
          continue; // some documents have no vector
        }
        float[] vector = TestVectors.random(random(), dimension);
        VECTORS.computeIfAbsent(field(dimension), f -> new LinkedHashMap<>()).put(id, vector);
        String value =
            random().nextBoolean()
                ? TestVectors.json(vector)
                : '"' + VectorFormat.toBase64(vector) + '"';
        json.append(", \"").append(field(dimension)).append("\": ").append(value);
      }
      json.append('}');
    }
    updateJ(json.append(']').toString(), params("commit", "true"));
  }

  private static String field(int dimension) {
    return "vec" + dimension;
  }

  @Test
  public void testRanksAndDistancesEqualBruteForce() throws Exception {
    for (int dimension : DIMENSIONS) {
      String field = field(dimension);
      Map<String, float[]> vectors = VECTORS.get(field);
      for (int iteration = 0; iteration < 3; iteration++) {
        float[] query = TestVectors.random(random(), dimension);
        String qv = random().nextBoolean() ? TestVectors.json(query) : VectorFormat.toBase64(query);
        Map<String, Object> response =
            select(
                "q",
                "{!visual f=" + field + " v=$qv}",
                "qv",
                qv,
                "fl",
                "id,score,d:sqdist(" + field + ",$qv)",
                "rows",
                "10");
        assertEquals(vectors.size(), numFound(response));
        assertEquals(TestVectors.nearest(vectors, query, id -> true, 10), ids(response));
        for (Map<String, Object> doc : docs(response)) {
          float[] vector = vectors.get((String) doc.get("id"));
          float distance = TestVectors.sqdistFloat(query, vector);
          assertFloat("sqdist of " + doc, distance, doc, "d");
          assertFloat("score of " + doc, TestVectors.score(distance), doc, "score");
          double exact = TestVectors.sqdistDouble(query, vector);
          assertEquals(exact, doubleField(doc, "d"), TestVectors.tolerance(dimension, exact));
        }
      }
    }
  }

  @Test
  public void testVectorAfterTheLocalParams() throws Exception {
    float[] query = TestVectors.random(random(), 16);
    Map<String, Object> response =
        select("q", "{!visual f=vec16}" + TestVectors.json(query), "rows", "5");
    assertEquals(TestVectors.nearest(VECTORS.get("vec16"), query, id -> true, 5), ids(response));
  }

  @Test
  public void testTheSameVectorInAnyFormIsTheSameCachedQuery() throws Exception {
    float[] vector = TestVectors.random(random(), 16);
    String[] forms = {
      VectorFormat.toBase64(vector),
      VectorFormat.toBase64(vector).replace("=", ""),
      TestVectors.json(vector)
    };
    Query expected = new VisualQuery("vec16", vector, 2.5f);
    for (String form : forms) {
      try (SolrQueryRequest request = req("qv", form)) {
        Query parsed = QParser.getParser("{!visual f=vec16 maxDist=2.5 v=$qv}", request).getQuery();
        assertEquals(form, expected, parsed);
        assertEquals(form, expected.hashCode(), parsed.hashCode());
      }
    }
  }

  @Test
  public void testFiltersGiveTheFilteredTopK() throws Exception {
    float[] query = TestVectors.random(random(), 64);
    Predicate<String> red = id -> CATEGORY.get(id).equals("red");
    List<String> expected = TestVectors.nearest(VECTORS.get("vec64"), query, red, 10);
    String[][] forms = {
      {"q", "{!visual f=vec64 v=$qv}", "fq", "category:red"},
      {"q", "{!bool must=$vis filter=$f}", "vis", "{!visual f=vec64 v=$qv}", "f", "category:red"}
    };
    String[] common = {"qv", VectorFormat.toBase64(query), "rows", "10", "fl", "id,score"};
    // minExactCount lets the collector pass its minimum competitive score down to the scorer
    String[] pruning = {"minExactCount", "10"};
    for (String[] form : forms) {
      Map<String, Object> complete = select(concat(form, common));
      Map<String, Object> pruned = select(concat(form, common, pruning));
      assertEquals(Arrays.toString(form), expected, ids(complete));
      assertEquals(docs(complete), docs(pruned));
      assertEquals(Boolean.FALSE, ((Map<?, ?>) pruned.get("response")).get("numFoundExact"));
    }
  }

  @Test
  public void testMaxDistIsAnInclusiveThreshold() throws Exception {
    Map<String, float[]> vectors = VECTORS.get("vec16");
    float[] query = TestVectors.random(random(), 16);
    String anchor = new ArrayList<>(vectors.keySet()).get(random().nextInt(vectors.size()));
    float distance = TestVectors.sqdistFloat(query, vectors.get(anchor));
    String qv = TestVectors.json(query);
    for (float maxDist : new float[] {distance, Math.nextDown(distance)}) {
      Set<String> expected = within(vectors, query, maxDist, id -> true);
      assertEquals(distance <= maxDist, expected.contains(anchor));
      String visual = "{!visual f=vec16 maxDist=" + maxDist + " v=$qv}";
      Map<String, Object> response = select("q", visual, "qv", qv, "rows", "1000", "fl", "id");
      assertEquals(expected, new HashSet<>(ids(response)));

      // as a filter under a keyword query
      Set<String> shirts = within(vectors, query, maxDist, id -> WORD.get(id).equals("shirt"));
      response = select("q", "text:shirt", "fq", visual, "qv", qv, "rows", "1000", "fl", "id");
      assertEquals(shirts, new HashSet<>(ids(response)));
    }
  }

  /**
   * {@code cache=false}: the visual filter runs as a post filter, after the keyword query and the
   * other filters, with the same matches as the cached filter.
   */
  @Test
  public void testUncachedVisualFilterIsAPostFilterWithTheSameMatches() throws Exception {
    Map<String, float[]> vectors = VECTORS.get("vec64");
    float[] query = TestVectors.random(random(), 64);
    float maxDist = 9f;
    String qv = VectorFormat.toBase64(query);
    try (SolrQueryRequest request = req("qv", qv)) {
      Query parsed =
          QParser.getParser("{!visual f=vec64 maxDist=9 cache=false v=$qv}", request).getQuery();
      assertTrue(parsed.toString(), parsed instanceof PostFilter);
      assertFalse(((PostFilter) parsed).getCache());
      assertEquals(VisualPostFilter.DEFAULT_COST, ((PostFilter) parsed).getCost());
    }
    Set<String> expected =
        within(vectors, query, maxDist, id -> WORD.get(id).equals("shirt") && CATEGORY.get(id).equals("red"));
    for (String cache : new String[] {"true", "false"}) {
      Map<String, Object> response =
          select(
              "q", "text:shirt",
              "fq", "category:red",
              "fq", "{!visual f=vec64 maxDist=" + maxDist + " cache=" + cache + " v=$qv}",
              "qv", qv,
              "rows", "1000",
              "fl", "id");
      assertEquals(cache, expected, new HashSet<>(ids(response)));
    }
    // without a threshold: every document with a vector
    Map<String, Object> all =
        select("q", "*:*", "fq", "{!visual f=vec64 cache=false v=$qv}", "qv", qv, "rows", "0");
    assertEquals(vectors.size(), numFound(all));
  }

  /**
   * The core's {@code QUERY.visual.vectorsRead} counts whole vectors: a count and a filter without
   * a threshold read none, a full scan by {@code sqdist} reads each vector once. (A count sorted by
   * score, Solr's default sort, asks for every score: hence {@code sort=id asc}.)
   */
  @Test
  public void testWholeVectorReadsAreTheCoresMetric() throws Exception {
    String qv = VectorFormat.toBase64(TestVectors.random(random(), 64));
    long before = vectorsRead();
    String[] count = {"q", "{!visual f=vec64 v=$qv}", "qv", qv, "rows", "0", "sort", "id asc"};
    assertEquals(VECTORS.get("vec64").size(), numFound(select(count)));
    select("q", "text:shirt", "fq", "{!visual f=vec64 cache=false v=$qv}", "qv", qv);
    assertEquals("a count and a filter without a threshold read no vector", before, vectorsRead());
    select("q", "*:*", "sort", "sqdist(vec64,$qv) asc, id asc", "qv", qv, "rows", "3");
    assertEquals(before + VECTORS.get("vec64").size(), vectorsRead());
  }

  /**
   * Sorted by a field, the visual query still only matches within maxDist; Lucene's competitive
   * iterator lets it skip documents that cannot enter the page, never one that can.
   */
  @Test
  public void testSortByAFieldWithAVisualQuery() throws Exception {
    Map<String, float[]> vectors = VECTORS.get("vec64");
    float[] query = TestVectors.random(random(), 64);
    // a threshold that about 20 documents pass
    float twentieth = TestVectors.sqdistFloat(
        query, vectors.get(TestVectors.nearest(vectors, query, id -> true, 19, 1).get(0)));
    for (float maxDist : new float[] {Float.POSITIVE_INFINITY, twentieth}) {
      List<String> expected = new ArrayList<>(within(vectors, query, maxDist, id -> true));
      expected.sort(
          java.util.Comparator.comparing((String id) -> PRICE.get(id))
              .thenComparing(java.util.Comparator.naturalOrder()));
      String threshold = maxDist == Float.POSITIVE_INFINITY ? "" : " maxDist=" + maxDist;
      for (String start : new String[] {"0", "6"}) {
        String[] params = {
          "q", "{!visual f=vec64" + threshold + " v=$qv}",
          "qv", VectorFormat.toBase64(query),
          "sort", "price_i asc, id asc",
          "start", start,
          "rows", "8",
          "fl", "id,d:sqdist(vec64,$qv)"
        };
        int from = Integer.parseInt(start);
        List<String> page = expected.subList(from, from + 8);
        Map<String, Object> complete = select(params);
        assertEquals(page, ids(complete));
        assertEquals(docs(complete), docs(select(concat(params, new String[] {"minExactCount", "1"}))));
        for (Map<String, Object> doc : docs(complete)) {
          float distance = TestVectors.sqdistFloat(query, vectors.get((String) doc.get("id")));
          assertFloat("sqdist of " + doc, distance, doc, "d");
        }
      }
    }
  }

  @Test
  public void testHybridScoreIsTheSumOfKeywordAndVisualScores() throws Exception {
    float[] query = TestVectors.random(random(), 4);
    String[] common = {
      "text",
      "text:shirt",
      "vis",
      "{!visual f=vec4 score=similarity v=$qv}",
      "qv",
      TestVectors.json(query),
      "rows",
      "1000",
      "fl",
      "id,score"
    };
    Map<String, Double> keyword =
        scores(select(concat(common, new String[] {"q", "{!lucene v=$text}"})));
    Map<String, Double> visual =
        scores(select(concat(common, new String[] {"q", "{!lucene v=$vis}"})));
    Map<String, Object> hybrid =
        select(concat(common, new String[] {"q", "{!bool should=$text should=$vis}"}));

    Set<String> union = new HashSet<>(keyword.keySet());
    union.addAll(visual.keySet());
    assertEquals(union.size(), numFound(hybrid));
    for (Map.Entry<String, Double> hit : scores(hybrid).entrySet()) {
      double expected =
          keyword.getOrDefault(hit.getKey(), 0d) + visual.getOrDefault(hit.getKey(), 0d);
      assertEquals(hit.getKey(), expected, hit.getValue(), 1e-6 * expected);
    }
  }

  @Test
  public void testFacetsCountTheVisualResultSet() throws Exception {
    Map<String, float[]> vectors = VECTORS.get("vec4");
    float[] query = TestVectors.random(random(), 4);
    float maxDist = 1.5f;
    Map<String, Object> response =
        select(
            "q", "{!visual f=vec4 maxDist=" + maxDist + " v=$qv}",
            "qv", VectorFormat.toBase64(query),
            "facet", "true",
            "facet.field", "category",
            "json.nl", "map",
            "rows", "0");
    Map<String, Long> expected = new HashMap<>();
    for (String id : within(vectors, query, maxDist, id -> true)) {
      expected.merge(CATEGORY.get(id), 1L, Long::sum);
    }
    Map<?, ?> facets = (Map<?, ?>) ((Map<?, ?>) response.get("facet_counts")).get("facet_fields");
    Map<String, Long> actual = new HashMap<>();
    ((Map<?, ?>) facets.get("category"))
        .forEach(
            (name, count) -> {
              if (((Number) count).longValue() > 0) {
                actual.put((String) name, ((Number) count).longValue());
              }
            });
    assertEquals(expected, actual);
  }

  @Test
  public void testDocumentsWithoutVectorsNeverMatchAndSortLast() throws Exception {
    Map<String, float[]> vectors = VECTORS.get("vec16");
    float[] query = TestVectors.random(random(), 16);
    Map<String, Object> response =
        select(
            "q", "*:*",
            "sort", "sqdist(vec16,$qv) asc",
            "qv", TestVectors.json(query),
            "fl", "id,d:sqdist(vec16,$qv)",
            "rows", String.valueOf(DOCS));
    List<Map<String, Object>> docs = docs(response);
    List<String> ids = ids(response);
    assertEquals(
        TestVectors.nearest(vectors, query, id -> true, vectors.size()),
        ids.subList(0, vectors.size()));
    // read in sorted order, not doc id order: the function has to go back in the doc values
    for (Map<String, Object> doc : docs.subList(0, vectors.size())) {
      float[] vector = vectors.get((String) doc.get("id"));
      assertFloat("sqdist of " + doc, TestVectors.sqdistFloat(query, vector), doc, "d");
    }
    for (Map<String, Object> doc : docs.subList(vectors.size(), DOCS)) {
      assertFalse(vectors.containsKey((String) doc.get("id")));
      assertNull("no distance without a vector", doc.get("d"));
    }
    assertEquals(vectors.size(), numFound(select("q", "vec16:*")));
    assertEquals(VECTORS.get("vec2048").size(), numFound(select("q", "vec2048:[* TO *]")));
  }

  @Test
  public void testQueryByTheVectorOfAnIndexedDocument() throws Exception {
    Map<String, float[]> vectors = VECTORS.get("vec64");
    String anchor = new ArrayList<>(vectors.keySet()).get(random().nextInt(vectors.size()));
    Map<String, Object> response =
        select("q", "{!visual f=vec64 id=" + anchor + "}", "rows", "5", "fl", "id,score");
    assertEquals(TestVectors.nearest(vectors, vectors.get(anchor), id -> true, 5), ids(response));
    assertFloat("the document itself", TestVectors.score(0f), docs(response).get(0), "score");
  }

  @Test
  public void testLikeAndUnlikeRankCloserToTheLikedAndAwayFromTheDisliked() throws Exception {
    Map<String, float[]> vectors = VECTORS.get("vec64");
    List<String> ids = new ArrayList<>(vectors.keySet());
    List<String> liked = ids.subList(0, 3);
    List<String> disliked = ids.subList(3, 5);
    double weight = 0.25;
    double lambda = weight / (1 + weight);
    // Independently of the plugin's query point: |x - liked centroid|^2 - lambda |x - disliked|^2
    double[] likedMean = TestVectors.mean(liked, vectors);
    double[] dislikedMean = TestVectors.mean(disliked, vectors);
    List<String> expected = new ArrayList<>(ids);
    expected.sort(
        java.util.Comparator.comparingDouble(
            id ->
                TestVectors.sqdist(vectors.get(id), likedMean)
                    - lambda * TestVectors.sqdist(vectors.get(id), dislikedMean)));
    Map<String, Object> response =
        select(
            "q",
            "{!visual f=vec64 like="
                + String.join(",", liked)
                + " unlike="
                + String.join(",", disliked)
                + " unlikeWeight="
                + weight
                + "}",
            "rows",
            "10",
            "fl",
            "id");
    assertEquals(expected.subList(0, 10), ids(response));

    Map<String, Object> likeOnly =
        select("q", "{!visual f=vec64 like=" + String.join(",", liked) + "}", "rows", "10");
    expected.sort(
        java.util.Comparator.comparingDouble(id -> TestVectors.sqdist(vectors.get(id), likedMean)));
    assertEquals(expected.subList(0, 10), ids(likeOnly));
  }

  private static Set<String> within(
      Map<String, float[]> vectors, float[] query, float maxDist, Predicate<String> accept) {
    Set<String> ids = new HashSet<>();
    vectors.forEach(
        (id, vector) -> {
          if (accept.test(id) && TestVectors.sqdistFloat(query, vector) <= maxDist) {
            ids.add(id);
          }
        });
    return ids;
  }

  private static Map<String, Double> scores(Map<String, Object> response) {
    Map<String, Double> scores = new HashMap<>();
    for (Map<String, Object> doc : docs(response)) {
      scores.put((String) doc.get("id"), doubleField(doc, "score"));
    }
    return scores;
  }
}
