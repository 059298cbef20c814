package io.lookalike.solr;

import com.codahale.metrics.Counter;
import java.io.IOException;
import org.apache.lucene.index.LeafReaderContext;
import org.apache.lucene.search.IndexSearcher;
import org.apache.lucene.search.QueryVisitor;
import org.apache.lucene.search.ScoreMode;
import org.apache.lucene.search.Weight;
import org.apache.solr.search.DelegatingCollector;
import org.apache.solr.search.ExtendedQueryBase;
import org.apache.solr.search.PostFilter;

/**
 * {@code fq={!visual maxDist=... cache=false}}: the visual filter as a Solr {@link PostFilter}, so
 * that distances are only computed for the documents that every other query and filter accepted
 * (a cached filter is computed over the whole index, before the query runs). Solr runs a filter as
 * a post filter when it is not cached and costs at least 100; this one costs {@link #DEFAULT_COST}
 * unless {@code cost} says otherwise. As a main query, or with a lower cost, it is the {@link
 * AbstractVisualQuery} it wraps. Without a threshold (no {@code maxDist}, or the linear mode) it
 * keeps every document that has a vector, computing nothing.
 */
final class VisualPostFilter extends ExtendedQueryBase implements PostFilter {

  /** Above Solr's post-filter threshold of 100 and above its other common post filters. */
  static final int DEFAULT_COST = 200;

  private final AbstractVisualQuery query;

  VisualPostFilter(AbstractVisualQuery query) {
    this.query = query;
    setCost(DEFAULT_COST);
  }

  AbstractVisualQuery getQuery() {
    return query;
  }

  @Override
  public DelegatingCollector getFilterCollector(IndexSearcher searcher) {
    return new DelegatingCollector() {
      private SegmentRanking ranking; // null in a segment without vectors
      private final Counter reads = VectorReads.of(searcher);

      @Override
      protected void doSetNextReader(LeafReaderContext context) throws IOException {
        super.doSetNextReader(context);
        ImageVectorValues values =
            ImageVectorValues.get(context.reader(), query.field, query.dimension(), reads);
        ranking = values == null ? null : query.ranking(values, 1f);
      }

      /**
       * Documents come in order, each once: the doc values only move forward. Without a threshold
       * a document with a vector matches, and no key is computed.
       */
      @Override
      public void collect(int doc) throws IOException {
        if (ranking != null && ranking.values.advanceExact(doc) && ranking.withinThreshold()) {
          super.collect(doc);
        }
      }
    };
  }

  @Override
  public Weight createWeight(IndexSearcher searcher, ScoreMode scoreMode, float boost)
      throws IOException {
    return query.createWeight(searcher, scoreMode, boost);
  }

  @Override
  public void visit(QueryVisitor visitor) {
    query.visit(visitor);
  }

  @Override
  public String toString(String field) {
    return super.toString(field) + query.toString(field);
  }

  @Override
  public boolean equals(Object other) {
    return sameClassAs(other)
        && query.equals(((VisualPostFilter) other).query)
        && getCost() == ((VisualPostFilter) other).getCost()
        && getCache() == ((VisualPostFilter) other).getCache();
  }

  @Override
  public int hashCode() {
    return 31 * (31 * classHash() + query.hashCode()) + getCost();
  }
}
