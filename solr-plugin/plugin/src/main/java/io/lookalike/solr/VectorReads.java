package io.lookalike.solr;

import com.codahale.metrics.Counter;
import org.apache.lucene.search.IndexSearcher;
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

  /** The counter of the core that {@code searcher} searches (get-or-create in its registry). */
  static Counter of(IndexSearcher searcher) {
    if (searcher instanceof SolrIndexSearcher solr && solr.getCore() != null) {
      return solr.getCore().getSolrMetricsContext().counter(METRIC, "QUERY", "visual");
    }
    return OUTSIDE_SOLR;
  }
}
