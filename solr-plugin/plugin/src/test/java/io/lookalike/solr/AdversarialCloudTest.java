package io.lookalike.solr;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.function.Predicate;
import org.apache.solr.client.solrj.SolrClient;
import org.apache.solr.client.solrj.request.CollectionAdminRequest;
import org.apache.solr.client.solrj.request.UpdateRequest;
import org.apache.solr.cloud.SolrCloudTestCase;
import org.apache.solr.common.SolrDocument;
import org.apache.solr.common.SolrInputDocument;
import org.apache.solr.common.params.ModifiableSolrParams;
import org.junit.BeforeClass;
import org.junit.Test;

/**
 * Two shards against a brute-force reference on adversarial vectors: offset by 1000, sparse and
 * non-negative, huge but within the bounds, tiny (subnormal squares), near duplicates one float
 * apart, in 13 dimensions (not a multiple of the kernel's 8 lanes) and 64 (with a sketch); pages,
 * thresholds, pruning and a sort by a field.
 */
public class AdversarialCloudTest extends SolrCloudTestCase {

  private static final String COLLECTION = "adversarial";
  private static final String[] FIELDS = {"vec13", "vec64"};
  private static final String[] FAMILIES = {"offset", "sparse", "huge", "tiny", "near"};
  private static final int PER_FAMILY = 40;

  /** Field, then id, to vector. */
  private static final Map<String, Map<String, float[]>> VECTORS = new LinkedHashMap<>();

  private static final Map<String, Integer> PRICE = new LinkedHashMap<>();

  @BeforeClass
  public static void startClusterAndIndex() throws Exception {
    configureCluster(2)
        .addConfig("test", getFile("solr/collection1/conf").toPath())
        .configure();
    CollectionAdminRequest.createCollection(COLLECTION, "test", 2, 1)
        .process(cluster.getSolrClient());
    cluster.waitForActiveCollection(COLLECTION, 2, 2);
    UpdateRequest update = new UpdateRequest();
    for (String field : FIELDS) {
      VECTORS.put(field, new LinkedHashMap<>());
    }
    for (String family : FAMILIES) {
      for (int i = 0; i < PER_FAMILY; i++) {
        String id = String.format(Locale.ROOT, "%s%02d", family, i);
        SolrInputDocument doc = new SolrInputDocument("id", id);
        PRICE.put(id, random().nextInt(20));
        doc.addField("price_i", PRICE.get(id));
        for (String field : FIELDS) {
          int dimension = Integer.parseInt(field.substring(3));
          float[] vector = vector(random(), family, dimension, i);
          VECTORS.get(field).put(id, vector);
          doc.addField(field, VectorFormat.toBase64(vector));
        }
        update.add(doc);
      }
    }
    update.commit(cluster.getSolrClient(), COLLECTION);
  }

  /** A vector of a family; "near" vectors are one float apart from each other in component 0. */
  private static float[] vector(Random random, String family, int dimension, int i) {
    float[] vector = TestVectors.random(new Random(family.hashCode() * 31L + dimension), dimension);
    float[] own = TestVectors.random(random, dimension);
    for (int c = 0; c < dimension; c++) {
      switch (family) {
        case "offset" -> vector[c] = 1000f + own[c];
        case "sparse" -> vector[c] = random.nextInt(4) == 0 ? Math.abs(own[c]) : 0f;
        case "huge" -> vector[c] = own[c] * 1e17f;
        case "tiny" -> vector[c] = own[c] * 1e-20f;
        default -> { // near: a shared vector, component 0 moved by i floats
          if (c == 0) {
            float x = vector[0];
            for (int step = 0; step < i; step++) {
              x = Math.nextUp(x);
            }
            vector[0] = x;
          }
        }
      }
    }
    return vector;
  }

  @Test
  public void testPagesEqualBruteForceForEveryFamily() throws Exception {
    for (String field : FIELDS) {
      Map<String, float[]> vectors = VECTORS.get(field);
      for (String family : FAMILIES) {
        // a query next to the family: one of its vectors, or one moved a little
        float[] query = vectors.get(family + "07").clone();
        if (family.equals("near") == false) {
          query[query.length - 1] = vectors.get(family + "08")[query.length - 1];
        }
        for (int[] page : new int[][] {{0, 10}, {7, 9}, {35, 12}}) {
          for (boolean pruning : new boolean[] {false, true}) {
            String where = field + " " + family + " start=" + page[0] + " pruning=" + pruning;
            List<String> expected =
                TestVectors.nearest(vectors, query, id -> true, page[0], page[1]);
            assertEquals(where, expected, search(field, query, "", null, page, pruning, vectors));
          }
        }
        // a threshold that the first 15 pass, sorted by price
        float threshold =
            TestVectors.sqdistFloat(
                query, vectors.get(TestVectors.nearest(vectors, query, id -> true, 14, 1).get(0)));
        Predicate<String> within = id -> TestVectors.sqdistFloat(vectors.get(id), query) <= threshold;
        List<String> byPrice = new ArrayList<>();
        vectors.keySet().stream().filter(within).forEach(byPrice::add);
        byPrice.sort(
            Comparator.comparing((String id) -> PRICE.get(id)).thenComparing(Comparator.naturalOrder()));
        String maxDist = " maxDist=" + threshold;
        List<String> sorted =
            search(field, query, maxDist, "price_i asc, id asc", new int[] {0, 250}, true, vectors);
        assertEquals(field + " " + family + " by price", byPrice, sorted);
      }
    }
  }

  /**
   * The linear mode on the same families: weights of either sign, biases near and far from 0, ties
   * by id, pages with and without pruning, by a filter.
   */
  @Test
  public void testLinearPagesEqualBruteForceForEveryFamily() throws Exception {
    for (String field : FIELDS) {
      Map<String, float[]> vectors = VECTORS.get(field);
      int dimension = Integer.parseInt(field.substring(3));
      for (String family : FAMILIES) {
        // weights along the family's vectors, so that the family ranks first (or last)
        float[] weights = vectors.get(family + "03").clone();
        float bias = family.equals("tiny") ? 0f : (random().nextFloat() - 0.5f) * 1e6f;
        if (random().nextBoolean()) {
          weights = TestVectors.random(random(), dimension);
        }
        SolrClient client = cluster.getSolrClient();
        for (int[] page : new int[][] {{0, 10}, {7, 9}, {35, 12}, {190, 20}}) {
          for (boolean pruning : new boolean[] {false, true}) {
            String where = field + " " + family + " start=" + page[0] + " pruning=" + pruning;
            assertEquals(
                where,
                TestVectors.highest(vectors, weights, bias, id -> true, page[0], page[1]),
                LinearSearch.page(
                    client, COLLECTION, field, weights, bias, null, page, pruning, vectors));
          }
        }
        String cheap = "price_i:[0 TO 9]";
        int[] page = {0, 15};
        assertEquals(
            field + " " + family + " " + cheap,
            TestVectors.highest(vectors, weights, bias, id -> PRICE.get(id) < 10, 0, 15),
            LinearSearch.page(client, COLLECTION, field, weights, bias, cheap, page, true, vectors));
      }
    }
  }

  /** The ids of a page, each hit's distance checked against the reference. */
  private static List<String> search(
      String field,
      float[] query,
      String local,
      String sort,
      int[] page,
      boolean pruning,
      Map<String, float[]> vectors)
      throws Exception {
    ModifiableSolrParams params =
        params(
            "q", "{!visual f=" + field + local + " v=$qv}",
            "qv", VectorFormat.toBase64(query),
            "fl", "id,score,d:sqdist(" + field + ",$qv)",
            "sort", sort == null ? "score desc, id asc" : sort,
            "start", String.valueOf(page[0]),
            "rows", String.valueOf(page[1]));
    if (pruning) {
      params.add("minExactCount", String.valueOf(page[0] + page[1]));
    }
    List<String> ids = new ArrayList<>();
    for (SolrDocument doc : cluster.getSolrClient().query(COLLECTION, params).getResults()) {
      String id = (String) doc.getFieldValue("id");
      float distance = TestVectors.sqdistFloat(query, vectors.get(id));
      assertEquals(id, distance, (Float) doc.getFieldValue("d"), 0f);
      assertTrue(id, Float.isFinite((Float) doc.getFieldValue("score")));
      ids.add(id);
    }
    return ids;
  }
}
