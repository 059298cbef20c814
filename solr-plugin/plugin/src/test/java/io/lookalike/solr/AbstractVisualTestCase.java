package io.lookalike.solr;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.apache.solr.SolrTestCaseJ4;
import org.apache.solr.common.util.Utils;

/** Reads query responses as JSON, for tests that compare whole result lists with a reference. */
public abstract class AbstractVisualTestCase extends SolrTestCaseJ4 {

  /** Starts the test core of src/test/resources/solr/collection1. */
  static void initTestCore() throws Exception {
    // an in-memory directory that, unlike RAMDirectoryFactory, works with an update log
    useFactory("solr.MockDirectoryFactory");
    initCore("solrconfig.xml", "schema.xml");
  }

  /** Runs a query against the test core and returns its parsed JSON response. */
  @SuppressWarnings("unchecked")
  static Map<String, Object> select(String... params) throws Exception {
    String[] withWt = Arrays.copyOf(params, params.length + 2);
    withWt[params.length] = "wt";
    withWt[params.length + 1] = "json";
    return (Map<String, Object>) Utils.fromJSONString(h.query(req(withWt)));
  }

  /** The whole vectors the test core's visual queries have read so far (see VectorReads). */
  static long vectorsRead() {
    return h.getCore()
        .getSolrMetricsContext()
        .getMetricRegistry()
        .counter("QUERY.visual." + VectorReads.METRIC)
        .getCount();
  }

  /** Request parameters from several name-value arrays. */
  static String[] concat(String[]... parts) {
    List<String> all = new ArrayList<>();
    for (String[] part : parts) {
      all.addAll(Arrays.asList(part));
    }
    return all.toArray(new String[0]);
  }

  @SuppressWarnings("unchecked")
  static List<Map<String, Object>> docs(Map<String, Object> response) {
    return (List<Map<String, Object>>) ((Map<String, Object>) response.get("response")).get("docs");
  }

  @SuppressWarnings("unchecked")
  static long numFound(Map<String, Object> response) {
    return ((Number) ((Map<String, Object>) response.get("response")).get("numFound")).longValue();
  }

  static List<String> ids(Map<String, Object> response) {
    List<String> ids = new ArrayList<>();
    for (Map<String, Object> doc : docs(response)) {
      ids.add((String) doc.get("id"));
    }
    return ids;
  }

  /** Asserts a float in a response is exactly {@code expected}; JSON carries Float.toString. */
  static void assertFloat(String message, float expected, Map<String, Object> doc, String name) {
    double written = Double.parseDouble(Float.toString(expected));
    assertEquals(message, written, ((Number) doc.get(name)).doubleValue(), 0d);
  }

  static double doubleField(Map<String, Object> doc, String name) {
    return ((Number) doc.get(name)).doubleValue();
  }
}
