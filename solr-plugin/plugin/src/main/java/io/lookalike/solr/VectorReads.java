package io.lookalike.solr;

import com.codahale.metrics.Counter;
import org.apache.lucene.search.IndexSearcher;
import org.apache.solr.core.SolrCore;
import org.apache.solr.request.SolrRequestInfo;
import org.apache.solr.search.SolrIndexSearcher;

/**
 * The whole vectors that a core's visual queries, filters and {@code sqdist} values read: Solr's
 * metric {@code QUERY.visual.vectorsRead} of the core (in {@code /admin/metrics}). Read beside the
 * request count, it shows how many vectors the sketches and the filters spare; the sketches
 * themselves, read instead, are not counted.
 */
final class VectorReads {

  static final String METRIC = "vectorsRead";
  private static final Counter OUTSIDE_SOLR = new Counter(); // a plain Lucene searcher's reads

  private VectorReads() {}

  /**
   * The counter of the core that {@code searcher} searches (get-or-create in its registry): the
   * searcher's own, or the request's core where Solr searches through a searcher of its own making
   * ({@code multiThreaded=true}; weights are made on the request's thread).
   */
  static Counter of(IndexSearcher searcher) {
    SolrCore core = searcher instanceof SolrIndexSearcher solr ? solr.getCore() : null;
    SolrRequestInfo request = SolrRequestInfo.getRequestInfo();
    if (core == null && request != null && request.getReq() != null) {
      core = request.getReq().getCore();
    }
    return core == null ? OUTSIDE_SOLR : core.getSolrMetricsContext().counter(METRIC, "QUERY", "visual");
  }
}
