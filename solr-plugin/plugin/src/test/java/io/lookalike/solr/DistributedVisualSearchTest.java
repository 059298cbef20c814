package io.lookalike.solr;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Predicate;
import org.apache.solr.client.solrj.request.CollectionAdminRequest;
import org.apache.solr.client.solrj.request.UpdateRequest;
import org.apache.solr.client.solrj.response.FacetField;
import org.apache.solr.client.solrj.response.QueryResponse;
import org.apache.solr.cloud.SolrCloudTestCase;
import org.apache.solr.client.solrj.SolrClient;
import org.apache.solr.client.solrj.impl.CloudSolrClient;
import org.apache.solr.common.SolrDocument;
import org.apache.solr.common.SolrDocumentList;
import org.apache.solr.embedded.JettySolrRunner;
import org.apache.solr.common.SolrInputDocument;
import org.apache.solr.common.params.ModifiableSolrParams;
import org.junit.BeforeClass;
import org.junit.Test;

/**
 * SolrCloud with the shipped configset: two shards on two nodes give the same top-k, in the same
 * order and with the same scores, as a brute-force search over all documents.
 */
public class DistributedVisualSearchTest extends SolrCloudTestCase {

  private static final String COLLECTION = "products";
  private static final int DOCS = 300;
  private static final int DIMENSION = 1024;
  private static final String[] CATEGORIES = {"red", "green", "blue"};

  private static final Map<String, float[]> VECTORS = new LinkedHashMap<>();
  private static final Map<String, String> CATEGORY = new HashMap<>();

  private static final int DUPLICATES = 13;
  private static final float[] DUPLICATED = TestVectors.random(new java.util.Random(7), DIMENSION);
  private static final float[] NEAR_QUERY = TestVectors.random(new java.util.Random(11), DIMENSION);

  @BeforeClass
  public static void startClusterAndIndex() throws Exception {
    configureCluster(2).addConfig("lookalike", getFile("configset/conf").toPath()).configure();
    CollectionAdminRequest.createCollection(COLLECTION, "lookalike", 2, 1)
        .process(cluster.getSolrClient());
    cluster.waitForActiveCollection(COLLECTION, 2, 2);

    UpdateRequest update = new UpdateRequest();
    for (int i = 0; i < DOCS; i++) {
      String id = String.format(Locale.ROOT, "sku%03d", i);
      SolrInputDocument doc = new SolrInputDocument("id", id);
      CATEGORY.put(id, CATEGORIES[i % CATEGORIES.length]);
      doc.addField("category", CATEGORY.get(id));
      if (i % 10 != 0) {
        float[] vector = TestVectors.random(random(), DIMENSION);
        VECTORS.put(id, vector);
        // as a javabin list of numbers or as base64: both are packed before being routed
        doc.addField(
            "image_vector",
            random().nextBoolean() ? asList(vector) : VectorFormat.toBase64(vector));
      }
      update.add(doc);
    }
    // the collection's own documents, with a category a facet would count
    for (String kind : new String[] {"model", "clusters"}) {
      String id = "_lookalike_" + kind;
      update.add(new SolrInputDocument("id", id, "kind", kind, "category", "red"));
    }
    update.commit(cluster.getSolrClient(), COLLECTION);

    // exact duplicates of one vector and a near-duplicate pair, added in reverse key order so that
    // neither the shards' internal doc ids nor the shard order agree with the unique keys
    UpdateRequest ties = new UpdateRequest();
    NEAR_QUERY[0] = 0f; // component 0 of the pair is then their exact difference to the query
    for (int i = DUPLICATES - 1; i >= 0; i--) {
      String id = String.format(Locale.ROOT, "tie%02d", i);
      VECTORS.put(id, DUPLICATED.clone());
      CATEGORY.put(id, "red");
      ties.add(
          new SolrInputDocument(
              "id", id, "category", "red", "image_vector", VectorFormat.toBase64(DUPLICATED)));
    }
    for (String id : new String[] {"znear2", "znear1"}) {
      float[] vector = NEAR_QUERY.clone();
      // znear1 is farther by a few bits of its distance: 1 / (1 + d) would tie them
      vector[0] = id.equals("znear1") ? Math.nextUp(Math.nextUp(1e-3f)) : 1e-3f;
      VECTORS.put(id, vector);
      CATEGORY.put(id, "green");
      ties.add(
          new SolrInputDocument(
              "id", id, "category", "green", "image_vector", VectorFormat.toBase64(vector)));
    }
    ties.commit(cluster.getSolrClient(), COLLECTION);
  }

  /** Exact ties come in unique-key order on every page; near duplicates by their distance. */
  @Test
  public void testTiesAndNearDuplicatesMergeLikeOneIndex() throws Exception {
    for (int[] page : new int[][] {{0, 5}, {5, 12}, {10, 10}}) {
      for (boolean pruning : new boolean[] {false, true}) {
        List<String> found = page(DUPLICATED, page[0], page[1], pruning);
        assertEquals(TestVectors.nearest(VECTORS, DUPLICATED, id -> true, page[0], page[1]), found);
      }
    }
    List<String> near = page(NEAR_QUERY, 0, 2, true);
    assertEquals(List.of("znear2", "znear1"), near);
    assertEquals(TestVectors.nearest(VECTORS, NEAR_QUERY, id -> true, 1, 6), page(NEAR_QUERY, 1, 6, false));
  }

  /**
   * The linear mode merges like one index: the 13 tied duplicates in id order on every page (with
   * weights along them, which rank them first), random weights with a bias far from 0, filtered
   * by category, with and without pruning.
   */
  @Test
  public void testLinearTopKMergesLikeOneIndex() throws Exception {
    CloudSolrClient client = cluster.getSolrClient();
    String field = "image_vector";
    for (int[] page : new int[][] {{0, 5}, {5, 12}, {10, 10}, {300, 30}}) {
      for (boolean pruning : new boolean[] {false, true}) {
        assertEquals(
            TestVectors.highest(VECTORS, DUPLICATED, -0.31f, id -> true, page[0], page[1]),
            LinearSearch.page(
                client, COLLECTION, field, DUPLICATED, -0.31f, null, page, pruning, VECTORS));
        float[] weights = TestVectors.random(random(), DIMENSION);
        String category = CATEGORIES[page[0] % CATEGORIES.length];
        Predicate<String> inCategory = id -> CATEGORY.get(id).equals(category);
        String fq = "category:" + category;
        assertEquals(
            TestVectors.highest(VECTORS, weights, 1e20f, inCategory, page[0], page[1]),
            LinearSearch.page(
                client, COLLECTION, field, weights, 1e20f, fq, page, pruning, VECTORS));
      }
    }
  }

  /** The ids of a page, checking each hit's distance and score against the reference. */
  private static List<String> page(float[] query, int start, int rows, boolean pruning)
      throws Exception {
    ModifiableSolrParams params =
        params(
            "q", "{!visual f=image_vector v=$qv}",
            "qv", VectorFormat.toBase64(query),
            "fl", "id,score,d:sqdist(image_vector,$qv)",
            "start", String.valueOf(start),
            "rows", String.valueOf(rows));
    if (pruning) {
      params.add("minExactCount", String.valueOf(start + rows));
    }
    List<String> ids = new ArrayList<>();
    for (SolrDocument doc : cluster.getSolrClient().query(COLLECTION, params).getResults()) {
      String id = (String) doc.getFieldValue("id");
      float distance = TestVectors.sqdistFloat(query, VECTORS.get(id));
      assertEquals(id, distance, (Float) doc.getFieldValue("d"), 0f);
      assertEquals(id, TestVectors.score(distance), (Float) doc.getFieldValue("score"), 0f);
      ids.add(id);
    }
    return ids;
  }

  @Test
  public void testBothShardsHoldDocuments() throws Exception {
    for (String shard : new String[] {"shard1", "shard2"}) {
      long count =
          cluster
              .getSolrClient()
              .query(COLLECTION, params("q", "*:*", "shards", shard))
              .getResults()
              .getNumFound();
      assertTrue(shard + " holds " + count, count > 0 && count < DOCS);
    }
  }

  /**
   * Every shard hides its share of the collection's own documents, in the counts, the facets and
   * the documents fetched in the second phase ({@code fl} beyond the id asks for one).
   */
  @Test
  public void testShardsHideTheCollectionsOwnDocuments() throws Exception {
    QueryResponse response =
        cluster
            .getSolrClient()
            .query(
                COLLECTION,
                params(
                    "q", "*:*",
                    "sort", "id asc",
                    "rows", "1",
                    "fl", "id,category",
                    "facet", "true",
                    "facet.field", "category"));
    assertEquals(DOCS + DUPLICATES + 2, response.getResults().getNumFound());
    assertEquals("sku000", response.getResults().get(0).getFieldValue("id"));
    for (FacetField.Count count : response.getFacetField("category").getValues()) {
      long expected = CATEGORY.values().stream().filter(count.getName()::equals).count();
      assertEquals(count.getName(), expected, count.getCount());
    }
  }

  @Test
  public void testMergedTopKEqualsBruteForce() throws Exception {
    for (int iteration = 0; iteration < 3; iteration++) {
      float[] query = TestVectors.random(random(), DIMENSION);
      assertTopK(query, null, id -> true, false);
      assertTopK(query, "category:red", id -> CATEGORY.get(id).equals("red"), false);
      assertTopK(query, "category:blue", id -> CATEGORY.get(id).equals("blue"), true);
    }
  }

  /**
   * A product lives on one shard, but every shard ranks {@code id=} and {@code like=}: the node
   * that receives the request resolves the point once, and all shards rank against it.
   */
  @Test
  public void testQueriesByIdAndExamplesFindDocumentsOnOtherShards() throws Exception {
    List<String> ids = new ArrayList<>(VECTORS.keySet());
    for (String anchor : ids.subList(0, 4)) {
      QueryResponse response =
          cluster
              .getSolrClient()
              .query(
                  COLLECTION,
                  params("q", "{!visual f=image_vector id=" + anchor + "}", "fl", "id"));
      List<String> found = new ArrayList<>();
      response.getResults().forEach(doc -> found.add((String) doc.getFieldValue("id")));
      assertEquals(TestVectors.nearest(VECTORS, VECTORS.get(anchor), id -> true, 10), found);
    }
    String liked = String.join(",", ids.subList(5, 8));
    QueryResponse response =
        cluster
            .getSolrClient()
            .query(
                COLLECTION,
                params(
                    "q", "{!visual f=image_vector like=" + liked + "}", "fl", "id", "rows", "5"));
    float[] centroid =
        QueryVectors.mean(
            List.of(VECTORS.get(ids.get(5)), VECTORS.get(ids.get(6)), VECTORS.get(ids.get(7))));
    List<String> found = new ArrayList<>();
    response.getResults().forEach(doc -> found.add((String) doc.getFieldValue("id")));
    assertEquals(TestVectors.nearest(VECTORS, centroid, id -> true, 5), found);
  }

  /**
   * While a product has an uncommitted update, then an uncommitted delete, {@code id=} ranks
   * against its committed vector, on one node as on the other: one of them holds the product's
   * shard, the other does not.
   */
  @Test
  public void testQueriesByIdUseTheCommittedVectorOnEveryNode() throws Exception {
    String id = "zmoving";
    float[] committed = TestVectors.random(random(), DIMENSION);
    float[] uncommitted = TestVectors.random(random(), DIMENSION);
    Map<String, float[]> vectors = new LinkedHashMap<>(VECTORS);
    vectors.put(id, committed);
    CloudSolrClient client = cluster.getSolrClient();
    try {
      client.add(COLLECTION, vectorDoc(id, committed));
      client.commit(COLLECTION);
      client.add(COLLECTION, vectorDoc(id, uncommitted));
      assertEveryNodeRanksAgainst(id, committed, vectors);
      client.deleteById(COLLECTION, id);
      assertEveryNodeRanksAgainst(id, committed, vectors);
    } finally {
      client.deleteById(COLLECTION, id);
      client.commit(COLLECTION);
    }
    Exception gone =
        expectThrows(
            Exception.class, () -> nodeQuery(0, "{!visual f=image_vector id=" + id + "}", 0, ""));
    assertTrue(gone.getMessage(), gone.getMessage().contains("id: no document '" + id + "'"));
  }

  private static void assertEveryNodeRanksAgainst(
      String id, float[] point, Map<String, float[]> vectors) throws Exception {
    String qv = VectorFormat.toBase64(point);
    for (int node = 0; node < cluster.getJettySolrRunners().size(); node++) {
      for (int start : new int[] {0, 7}) {
        SolrDocumentList byId = nodeQuery(node, "{!visual f=image_vector id=" + id + "}", start, qv);
        SolrDocumentList byVector = nodeQuery(node, "{!visual f=image_vector v=$qv}", start, qv);
        String where = "node " + node + " start=" + start;
        assertEquals(where, TestVectors.nearest(vectors, point, i -> true, start, 10), idsOf(byId));
        assertEquals(where, hits(byVector), hits(byId));
        assertEquals(where, byVector.getNumFound(), byId.getNumFound());
      }
    }
  }

  /** A query sent to one node, which coordinates it. */
  private static SolrDocumentList nodeQuery(int node, String q, int start, String qv)
      throws Exception {
    JettySolrRunner jetty = cluster.getJettySolrRunner(node);
    try (SolrClient client = getHttpSolrClient(jetty.getBaseUrl().toString())) {
      ModifiableSolrParams params =
          params("q", q, "qv", qv, "fl", "id,score", "rows", "10", "start", String.valueOf(start));
      return client.query(COLLECTION, params).getResults();
    }
  }

  /** Each hit's id and score. */
  private static List<String> hits(SolrDocumentList docs) {
    List<String> hits = new ArrayList<>();
    docs.forEach(doc -> hits.add(doc.getFieldValue("id") + "=" + doc.getFieldValue("score")));
    return hits;
  }

  private static List<String> idsOf(SolrDocumentList docs) {
    List<String> ids = new ArrayList<>();
    docs.forEach(doc -> ids.add((String) doc.getFieldValue("id")));
    return ids;
  }

  private static SolrInputDocument vectorDoc(String id, float[] vector) {
    return new SolrInputDocument("id", id, "category", "blue", "image_vector", VectorFormat.toBase64(vector));
  }

  private static void assertTopK(
      float[] query, String fq, Predicate<String> accept, boolean pruning) throws Exception {
    ModifiableSolrParams params =
        params(
            "q", "{!visual f=image_vector v=$qv}",
            "qv", VectorFormat.toBase64(query),
            "fl", "id,score,d:sqdist(image_vector,$qv)",
            "rows", "10");
    if (fq != null) {
      params.add("fq", fq);
    }
    if (pruning) {
      params.add("minExactCount", "10");
    }
    QueryResponse response = cluster.getSolrClient().query(COLLECTION, params);
    List<String> ids = new ArrayList<>();
    for (SolrDocument doc : response.getResults()) {
      String id = (String) doc.getFieldValue("id");
      ids.add(id);
      float distance = TestVectors.sqdistFloat(query, VECTORS.get(id));
      assertEquals(id, distance, (Float) doc.getFieldValue("d"), 0f);
      assertEquals(id, TestVectors.score(distance), (Float) doc.getFieldValue("score"), 0f);
    }
    assertEquals(params.toString(), TestVectors.nearest(VECTORS, query, accept, 10), ids);
    if (pruning == false) {
      long expected = VECTORS.keySet().stream().filter(accept).count();
      assertEquals(expected, response.getResults().getNumFound());
    }
  }

  private static List<Float> asList(float[] vector) {
    List<Float> list = new ArrayList<>(vector.length);
    for (float component : vector) {
      list.add(component);
    }
    return list;
  }
}
