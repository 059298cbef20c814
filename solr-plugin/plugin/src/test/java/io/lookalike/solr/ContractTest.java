package io.lookalike.solr;

import java.io.InputStream;
import java.util.List;
import java.util.Map;
import org.apache.solr.common.util.Utils;
import org.apache.solr.schema.IndexSchema;
import org.apache.solr.schema.SchemaField;
import org.junit.BeforeClass;
import org.junit.Test;

/**
 * The contract with the Python embedder, checked against what is shipped: the configset
 * (solr-config/conf, copied to configset/ on the test classpath) and the shared wire-format
 * examples (solr-config/vector-format-examples.json, also read by tests/test_contract.py).
 */
public class ContractTest extends AbstractVisualTestCase {

  private static final int DIMENSION = 1024;

  @BeforeClass
  public static void startShippedCore() throws Exception {
    useFactory("solr.MockDirectoryFactory");
    initCore("solrconfig.xml", "schema.xml", getFile("configset").getParent(), "configset");
  }

  @Test
  @SuppressWarnings("unchecked")
  public void testSharedWireFormatExamples() throws Exception {
    Map<String, Object> file;
    try (InputStream in =
        getClass().getResourceAsStream("/configset/vector-format-examples.json")) {
      assertNotNull("vector-format-examples.json on the test classpath", in);
      file = (Map<String, Object>) Utils.fromJSON(in);
    }
    List<Map<String, Object>> examples = (List<Map<String, Object>>) file.get("examples");
    assertFalse(examples.isEmpty());
    for (Map<String, Object> example : examples) {
      List<Number> numbers = (List<Number>) example.get("floats");
      String base64 = (String) example.get("base64");
      float[] floats = new float[numbers.size()];
      for (int i = 0; i < floats.length; i++) {
        floats[i] = numbers.get(i).floatValue();
      }
      assertArrayEquals(base64, floats, VectorFormat.parse(base64, "example", floats.length), 0f);
      assertArrayEquals(base64, floats, VectorFormat.parse(numbers, "example", floats.length), 0f);
      assertEquals(base64, VectorFormat.toBase64(floats));
    }
  }

  @Test
  public void testSchemaContract() {
    IndexSchema schema = h.getCore().getLatestSchema();
    assertEquals("id", schema.getUniqueKeyField().getName());

    SchemaField vector = schema.getField("image_vector");
    assertTrue(vector.getType() instanceof ImageVectorField);
    assertEquals(DIMENSION, ((ImageVectorField) vector.getType()).getDimension());
    assertTrue(vector.hasDocValues() && vector.useDocValuesAsStored());

    SchemaField raw = schema.getField("photo_vec2048");
    assertEquals(2048, ((ImageVectorField) raw.getType()).getDimension());

    SchemaField version = schema.getField(VisualQParserPlugin.DEFAULT_VERSION_FIELD);
    assertTrue("the model check needs an indexed version field", version.indexed());
  }

  @Test
  public void testShippedConfigIndexesAndSearches() throws Exception {
    float[] near = TestVectors.random(random(), DIMENSION);
    float[] far = TestVectors.random(random(), DIMENSION);
    float[] query = near.clone();
    query[0] += 0.25f;
    updateJ(
        "[{\"id\": \"near\", \"title\": \"red shoe\", \"pca_version\": \"v1\","
            + " \"image_vector\": "
            + TestVectors.json(near)
            + "},"
            + " {\"id\": \"far\", \"title\": \"red bag\", \"pca_version\": \"v1\","
            + " \"image_vector\": \""
            + VectorFormat.toBase64(far)
            + "\"},"
            + " {\"id\": \"model\", \"kind\": \"model\", \"pca_version\": \"v1\"}]",
        params("commit", "true"));

    Map<String, Object> response =
        select(
            "q", "{!visual f=image_vector model=v1 v=$qv}",
            "fq", "title:red",
            "qv", VectorFormat.toBase64(query),
            "fl", "id,score,d:sqdist(image_vector,$qv)");
    assertEquals(List.of("near", "far"), ids(response));
    float distance = TestVectors.sqdistFloat(query, near);
    assertFloat("sqdist", distance, docs(response).get(0), "d");
    assertFloat("score", TestVectors.score(distance), docs(response).get(0), "score");
    // the model document is kept out of /select and /query by the reservedDocuments component,
    // which leaves a visual query unfiltered
    assertEquals(2, numFound(select("q", "pca_version:v1")));
    assertEquals(2, numFound(query("/query", "q", "*:*")));
    Map<String, Object> visual =
        select(
            "q", "{!visual f=image_vector v=$qv}",
            "qv", VectorFormat.toBase64(query),
            "debugQuery", "true");
    assertEquals(2, numFound(visual));
    assertNull(((Map<?, ?>) visual.get("debug")).get("parsed_filter_queries"));
  }

  @SuppressWarnings("unchecked")
  private static Map<String, Object> query(String handler, String... params) throws Exception {
    String[] json = concat(params, new String[] {"wt", "json"});
    return (Map<String, Object>) Utils.fromJSONString(h.query(handler, req(json)));
  }
}
