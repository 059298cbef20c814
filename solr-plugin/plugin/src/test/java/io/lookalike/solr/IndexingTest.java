package io.lookalike.solr;

import java.util.Map;
import org.apache.solr.schema.IndexSchemaFactory;
import org.junit.Before;
import org.junit.BeforeClass;
import org.junit.Test;

/** How vectors get in (JSON, base64, XML, atomic updates) and how they come back out. */
public class IndexingTest extends AbstractVisualTestCase {

  private static final float[] VECTOR = {0.5f, -1.25f, 3f, 0.125f};
  private static final String BASE64 = VectorFormat.toBase64(VECTOR);

  @BeforeClass
  public static void startCore() throws Exception {
    initTestCore();
  }

  @Before
  public void emptyIndex() {
    clearIndex();
    assertU(commit());
  }

  @Test
  public void testEveryInputFormIndexesTheSameVector() throws Exception {
    updateJ(
        "[{\"id\": \"json\", \"vec4\": [0.5, -1.25, 3, 0.125]},"
            + " {\"id\": \"base64\", \"vec4\": \""
            + BASE64
            + "\"},"
            + " {\"id\": \"text\", \"vec4\": \"[0.5, -1.25, 3, 0.125]\"},"
            + " {\"id\": \"unpadded\", \"vec4\": \""
            + BASE64.replace("=", "")
            + "\"}]",
        null);
    assertU(adoc("id", "xml", "vec4", "0.5", "vec4", "-1.25", "vec4", "3", "vec4", "0.125"));
    assertU(adoc("id", "none", "category", "no vector at all"));
    assertU(commit());
    assertJQ(
        req("q", "{!visual f=vec4 score=similarity v=$qv}", "qv", BASE64, "fl", "id,score"),
        0d,
        "/response/numFound==5",
        "/response/docs/[0]/score==1.0",
        "/response/docs/[4]/score==1.0");
  }

  @Test
  public void testResponsesShowTheVectorAsBase64() throws Exception {
    updateJ("[{\"id\": \"r1\", \"vec4\": [0.5, -1.25, 3, 0.125]}]", null);
    // not yet committed: real-time get reads the update log
    assertJQ(req("qt", "/get", "id", "r1", "fl", "id,vec4"), "/doc/vec4=='" + BASE64 + "'");
    assertU(commit());
    // committed: real-time get and search read doc values
    assertJQ(req("qt", "/get", "id", "r1", "fl", "id,vec4"), "/doc/vec4=='" + BASE64 + "'");
    assertJQ(req("q", "id:r1", "fl", "vec4"), "/response/docs/[0]/vec4=='" + BASE64 + "'");
    assertQ(req("q", "id:r1", "fl", "vec4"), "//str[@name='vec4'][.='" + BASE64 + "']");
  }

  @Test
  public void testAtomicUpdatesKeepOrReplaceTheVector() throws Exception {
    float[] stored = TestVectors.random(random(), 16);
    float[] query = TestVectors.random(random(), 16);
    String json = TestVectors.json(stored);
    updateJ("[{\"id\": \"a1\", \"category\": \"red\", \"vec16\": " + json + "}]", null);
    assertU(commit());
    // another field changes: the document is rebuilt from doc values and keeps its vector
    updateJ("[{\"id\": \"a1\", \"category\": {\"set\": \"blue\"}}]", null);
    assertU(commit());
    assertDistance(TestVectors.sqdistFloat(query, stored), query, "blue");
    // the vector itself changes, in an atomic update that reads the previous one from the log
    float[] replaced = TestVectors.random(random(), 16);
    updateJ("[{\"id\": \"a1\", \"category\": {\"set\": \"green\"}}]", null);
    String set = "{\"set\": " + TestVectors.json(replaced) + "}";
    updateJ("[{\"id\": \"a1\", \"vec16\": " + set + "}]", null);
    assertU(commit());
    assertDistance(TestVectors.sqdistFloat(query, replaced), query, "green");
  }

  @Test
  public void testSchemaRejectsUnsupportedDefinitions() {
    assertSchemaError(
        "bad-schema-dimension.xml",
        "fieldType vector: attribute dimension must be an integer in 1..16384, got '0'");
    assertSchemaError(
        "bad-schema-sketch.xml",
        "fieldType vector: attribute sketchDimensions must be an integer in 0..16 (0: no sketch),"
            + " got '17'");
    assertSchemaError(
        "bad-schema-stored.xml",
        "field v: stored=\"true\", multiValued=\"true\" is not supported; an ImageVectorField is a"
            + " single vector kept in doc values only");
  }

  private void assertDistance(float expected, float[] query, String category) throws Exception {
    Map<String, Object> response =
        select(
            "q",
            "{!visual f=vec16 v=$qv}",
            "fq",
            "category:" + category,
            "qv",
            TestVectors.json(query),
            "fl",
            "id,score,d:sqdist(vec16,$qv)");
    assertEquals(1, numFound(response));
    assertFloat("distance", expected, docs(response).get(0), "d");
    assertFloat("score", TestVectors.score(expected), docs(response).get(0), "score");
  }

  private static void assertSchemaError(String schemaFile, String message) {
    Exception e =
        expectThrows(
            Exception.class,
            () -> IndexSchemaFactory.buildIndexSchema(schemaFile, h.getCore().getSolrConfig()));
    StringBuilder messages = new StringBuilder();
    for (Throwable cause = e; cause != null; cause = cause.getCause()) {
      messages.append(cause.getMessage()).append('\n');
    }
    assertTrue(messages.toString(), messages.toString().contains(message));
  }
}
