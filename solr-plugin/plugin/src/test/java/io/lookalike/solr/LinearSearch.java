package io.lookalike.solr;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.solr.client.solrj.SolrClient;
import org.apache.solr.common.SolrDocument;
import org.apache.solr.common.params.ModifiableSolrParams;

/** A linear-mode search through SolrJ, as the SolrCloud tests send it. */
final class LinearSearch {

  private LinearSearch() {}

  /**
   * The ids of a page of {@code {!visual f=field weights=... bias=...}}, each hit's score checked
   * against its value in {@code vectors}; with {@code pruning}, {@code minExactCount} lets the
   * collector prune.
   */
  static List<String> page(
      SolrClient client,
      String collection,
      String field,
      float[] weights,
      float bias,
      String fq,
      int[] page,
      boolean pruning,
      Map<String, float[]> vectors)
      throws Exception {
    ModifiableSolrParams params = new ModifiableSolrParams();
    params.set("q", "{!visual f=" + field + " weights=$w bias=" + bias + "}");
    params.set("w", VectorFormat.toBase64(weights));
    params.set("fl", "id,score");
    params.set("start", page[0]);
    params.set("rows", page[1]);
    if (fq != null) {
      params.set("fq", fq);
    }
    if (pruning) {
      params.set("minExactCount", page[0] + page[1]);
    }
    List<String> ids = new ArrayList<>();
    for (SolrDocument doc : client.query(collection, params).getResults()) {
      String id = (String) doc.getFieldValue("id");
      float score = (Float) doc.getFieldValue("score");
      TestVectors.assertLinearScore(id, weights, bias, vectors.get(id), score);
      ids.add(id);
    }
    return ids;
  }
}
