package io.lookalike.solr;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Predicate;
import org.apache.solr.common.SolrException;
import org.apache.solr.common.util.NamedList;
import org.junit.BeforeClass;
import org.junit.Test;

/**
 * The collection's own documents (a value in {@code kind}) never show up in results, counts or
 * facets, while a top-level {@code {!visual}} query is left unfiltered.
 */
public class ReservedDocumentsComponentTest extends AbstractVisualTestCase {

  private static final int PRODUCTS = 120;
  private static final String[] CATEGORIES = {"red", "green", "blue"};
  private static final List<String> RESERVED =
      List.of("_lookalike_pca_model", "_lookalike_clusters");

  /** Product id to vector in vec4cells; products without a vector are absent. */
  private static final Map<String, float[]> VECTORS = new LinkedHashMap<>();

  private static final Map<String, String> CATEGORY = new LinkedHashMap<>();

  @BeforeClass
  public static void indexProductsAndReservedDocuments() throws Exception {
    initTestCore();
    StringBuilder json = new StringBuilder("[");
    for (int i = 0; i < PRODUCTS; i++) {
      String id = String.format(Locale.ROOT, "p%03d", i);
      String category = CATEGORIES[random().nextInt(CATEGORIES.length)];
      CATEGORY.put(id, category);
      json.append(
          String.format(
              Locale.ROOT,
              "{\"id\": \"%s\", \"category\": \"%s\", \"text\": \"%s shoe\"",
              id,
              category,
              category));
      if (i % 7 != 0) {
        float[] vector = TestVectors.random(random(), 4);
        VECTORS.put(id, vector);
        json.append(", \"vec4cells\": ").append(TestVectors.json(vector));
      }
      json.append("},\n");
    }
    // like the PCA model and the clustering, with fields a product query or facet could match
    json.append("{\"id\": \"_lookalike_pca_model\", \"kind\": \"model\", \"category\": \"red\",")
        .append(" \"text\": \"red shoe\", \"pca_version\": \"v1\"},\n")
        .append("{\"id\": \"_lookalike_clusters\", \"kind\": \"clusters\",")
        .append(" \"category\": \"red\"}]");
    updateJ(json.toString(), params("commit", "true"));
  }

  @Test
  public void testMatchAllCountsAndFacetsOnlyProducts() throws Exception {
    Map<String, Object> response =
        select(
            "q", "*:*",
            "rows", "1000",
            "fl", "id",
            "facet", "true",
            "facet.field", "category",
            "json.nl", "map");
    assertEquals(PRODUCTS, numFound(response));
    assertEquals(new ArrayList<>(CATEGORY.keySet()), sorted(ids(response)));
    assertEquals(productCounts(), facetCounts(response));

    Map<String, Object> byId = select("q", "id:_lookalike_pca_model OR kind:*");
    assertEquals(0, numFound(byId));
  }

  @Test
  public void testKeywordQueriesAndHybridsExcludeThem() throws Exception {
    Predicate<String> red = id -> CATEGORY.get(id).equals("red");
    assertEquals(count(red), numFound(select("q", "text:red")));
    assertEquals(count(id -> true), numFound(select("q", "text:shoe")));

    // a keyword clause can match a reserved document even next to a visual clause
    Map<String, Object> hybrid =
        select(
            "q", "{!bool should=$vis should=text:red}",
            "vis", "{!visual f=vec4cells v=$qv}",
            "qv", TestVectors.json(TestVectors.random(random(), 4)),
            "rows", "1000",
            "fl", "id");
    long expected = CATEGORY.keySet().stream().filter(red.or(VECTORS::containsKey)).count();
    assertEquals(expected, numFound(hybrid));
    assertNoReserved(hybrid);
  }

  @Test
  public void testVisualFilterUnderMatchAll() throws Exception {
    Map<String, Object> response =
        select(
            "q", "*:*",
            "fq", "{!visual f=vec4cells maxDist=1.5 v=$qv}",
            "qv", TestVectors.json(TestVectors.random(random(), 4)),
            "rows", "1000",
            "debugQuery", "true");
    assertNoReserved(response);
    assertEquals(2, parsedFilters(response).size());
  }

  @Test
  public void testOnlyTheExclusionFilterOnMatchAll() throws Exception {
    List<String> filters = parsedFilters(select("q", "*:*", "debugQuery", "true"));
    assertEquals(filters.toString(), 1, filters.size());
    assertTrue(filters.toString(), filters.get(0).contains("kind"));
  }

  /** Every form of a top-level visual query runs unfiltered and is the exact top-k. */
  @Test
  public void testTopLevelVisualQueriesGetNoFilter() throws Exception {
    float[] query = TestVectors.random(random(), 4);
    List<String> ids = new ArrayList<>(VECTORS.keySet());
    String anchor = ids.get(random().nextInt(ids.size()));
    List<String> liked = ids.subList(0, 3);
    float[] centroid = QueryVectors.mean(liked.stream().map(VECTORS::get).toList());
    float maxDist = 0.5f;
    Predicate<String> near = id -> TestVectors.sqdistFloat(VECTORS.get(id), query) <= maxDist;
    Predicate<String> all = id -> true;

    Map<String, List<String>> expected = new LinkedHashMap<>();
    expected.put("{!visual f=vec4cells v=$qv}", nearest(query, all));
    expected.put("{!visual f=vec4cells cache=false v=$qv}", nearest(query, all));
    expected.put("{!visual f=vec4cells probe=4 v=$qv}", nearest(query, all));
    expected.put("{!visual f=vec4cells maxDist=" + maxDist + " v=$qv}", nearest(query, near));
    expected.put("{!visual f=vec4cells id=" + anchor + "}", nearest(VECTORS.get(anchor), all));
    String like = "{!visual f=vec4cells like=" + String.join(",", liked) + "}";
    expected.put(like, nearest(centroid, all));
    expected.put("_query_:\"{!visual f=vec4cells v=$qv}\"^2", nearest(query, all));
    for (Map.Entry<String, List<String>> form : expected.entrySet()) {
      Map<String, Object> response =
          select(
              "q", form.getKey(),
              "qv", TestVectors.json(query),
              "fl", "id",
              "debugQuery", "true");
      assertEquals(form.getKey(), List.of(), parsedFilters(response));
      assertEquals(form.getKey(), form.getValue(), ids(response));
    }
  }

  @Test
  public void testUserFiltersStillApply() throws Exception {
    Predicate<String> red = id -> CATEGORY.get(id).equals("red");
    Map<String, Object> all =
        select("q", "*:*", "fq", "category:red", "rows", "1000", "debugQuery", "true");
    assertEquals(count(red), numFound(all));
    assertNoReserved(all);
    assertEquals(2, parsedFilters(all).size());

    float[] query = TestVectors.random(random(), 4);
    Map<String, Object> visual =
        select(
            "q", "{!visual f=vec4cells v=$qv}",
            "fq", "category:red",
            "qv", TestVectors.json(query),
            "debugQuery", "true");
    assertEquals(nearest(query, red), ids(visual));
    assertEquals(List.of("category:red"), parsedFilters(visual));
  }

  /** A facet that excludes a tagged main query counts the whole index, so the filter is needed. */
  @Test
  public void testFacetExcludingATaggedVisualQuery() throws Exception {
    Map<String, Object> response =
        select(
            "q", "{!visual tag=v f=vec4cells maxDist=0.5 v=$qv}",
            "qv", TestVectors.json(TestVectors.random(random(), 4)),
            "facet", "true",
            "facet.field", "{!ex=v}category",
            "json.nl", "map",
            "rows", "0");
    assertEquals(productCounts(), facetCounts(response));
  }

  @Test
  public void testAFieldMissingFromTheSchemaFailsTheCore() {
    ReservedDocumentsComponent component = new ReservedDocumentsComponent();
    NamedList<Object> args = new NamedList<>();
    args.add("field", "reserved_kind");
    component.init(args);
    SolrException e = expectThrows(SolrException.class, () -> component.inform(h.getCore()));
    assertTrue(e.getMessage(), e.getMessage().contains("field 'reserved_kind'"));
  }

  private static List<String> nearest(float[] query, Predicate<String> accept) {
    return TestVectors.nearest(VECTORS, query, accept, 10);
  }

  private static long count(Predicate<String> accept) {
    return CATEGORY.keySet().stream().filter(accept).count();
  }

  /** Products per category. */
  private static Map<String, Long> productCounts() {
    Map<String, Long> counts = new HashMap<>();
    CATEGORY.values().forEach(category -> counts.merge(category, 1L, Long::sum));
    return counts;
  }

  private static Map<String, Long> facetCounts(Map<String, Object> response) {
    Map<?, ?> fields = (Map<?, ?>) ((Map<?, ?>) response.get("facet_counts")).get("facet_fields");
    Map<String, Long> counts = new HashMap<>();
    ((Map<?, ?>) fields.get("category"))
        .forEach(
            (name, count) -> {
              if (((Number) count).longValue() > 0) {
                counts.put((String) name, ((Number) count).longValue());
              }
            });
    return counts;
  }

  /** The parsed filter queries of a debugQuery response; none when the request has no filter. */
  @SuppressWarnings("unchecked")
  private static List<String> parsedFilters(Map<String, Object> response) {
    Map<String, Object> debug = (Map<String, Object>) response.get("debug");
    return (List<String>) debug.getOrDefault("parsed_filter_queries", List.of());
  }

  private static void assertNoReserved(Map<String, Object> response) {
    for (String id : ids(response)) {
      assertFalse(id, RESERVED.contains(id));
    }
  }

  private static List<String> sorted(List<String> ids) {
    List<String> copy = new ArrayList<>(ids);
    copy.sort(null);
    return copy;
  }
}
