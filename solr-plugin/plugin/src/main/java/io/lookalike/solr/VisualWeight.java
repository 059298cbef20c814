package io.lookalike.solr;

import java.io.IOException;
import java.util.List;
import org.apache.lucene.index.DocValues;
import org.apache.lucene.index.LeafReaderContext;
import org.apache.lucene.search.BulkScorer;
import org.apache.lucene.search.ConjunctionUtils;
import org.apache.lucene.search.DocIdSetIterator;
import org.apache.lucene.search.Explanation;
import org.apache.lucene.search.Scorer;
import org.apache.lucene.search.Weight;

/**
 * The {@link Weight} of a {@link VisualQuery}: one {@link VisualScorer} per segment. An approximate
 * query's cell filter joins the scorer's approximation, so distances are only computed for
 * documents of the probed cells.
 */
final class VisualWeight extends Weight {

  private final VisualQuery query;
  private final float boost;
  private final Weight cellFilter; // null for the exact search

  VisualWeight(VisualQuery query, float boost, Weight cellFilter) {
    super(query);
    this.query = query;
    this.boost = boost;
    this.cellFilter = cellFilter;
  }

  /** Null for a segment where no document has a vector (or none in the probed cells). */
  @Override
  public Scorer scorer(LeafReaderContext context) throws IOException {
    ImageVectorValues values = vectors(context);
    if (values == null) {
      return null;
    }
    DocIdSetIterator candidates = inCells(context, values.iterator());
    if (candidates == null) {
      return null;
    }
    return new VisualScorer(
        this, values, candidates, query.target, query.maxDist, query.score, boost);
  }

  /** Where Lucene runs the query on its own: see {@link VisualBulkScorer}. */
  @Override
  public BulkScorer bulkScorer(LeafReaderContext context) throws IOException {
    ImageVectorValues values = vectors(context);
    if (values == null) {
      return null;
    }
    // a second iterator over the documents with a vector: values moves on its own
    DocIdSetIterator candidates =
        inCells(context, DocValues.getBinary(context.reader(), query.field));
    if (candidates == null) {
      return null;
    }
    return new VisualBulkScorer(
        candidates, values, query.target, query.maxDist, query.score, boost);
  }

  /** {@code candidates} restricted to the probed cells, null when none is in this segment. */
  private DocIdSetIterator inCells(LeafReaderContext context, DocIdSetIterator candidates)
      throws IOException {
    if (cellFilter == null) {
      return candidates;
    }
    Scorer inCells = cellFilter.scorer(context);
    return inCells == null
        ? null
        : ConjunctionUtils.intersectIterators(List.of(candidates, inCells.iterator()));
  }

  @Override
  public boolean isCacheable(LeafReaderContext context) {
    return DocValues.isCacheable(context, query.field)
        && (cellFilter == null || cellFilter.isCacheable(context));
  }

  @Override
  public Explanation explain(LeafReaderContext context, int doc) throws IOException {
    ImageVectorValues values = vectors(context);
    if (values == null || values.advanceExact(doc) == false) {
      return Explanation.noMatch("no vector in " + query.field);
    }
    if (cellFilter != null && cellFilter.explain(context, doc).isMatch() == false) {
      return Explanation.noMatch("not in the " + query.cells.length + " probed cells");
    }
    float distance = values.squaredDistance(query.target, Float.POSITIVE_INFINITY);
    if (distance > query.maxDist) {
      return Explanation.noMatch("sqdist " + distance + " > maxDist " + query.maxDist);
    }
    return Explanation.match(
        query.score.score(boost, distance),
        "sqdist="
            + distance
            + " (maxDist="
            + query.maxDist
            + "), score="
            + query.score
            + ", computed as "
            + query.score.formula()
            + " from:",
        Explanation.match(boost, "boost"),
        Explanation.match(distance, "sqdist, the squared Euclidean distance to the query vector"));
  }

  private ImageVectorValues vectors(LeafReaderContext context) throws IOException {
    return ImageVectorValues.get(context.reader(), query.field, query.target.length);
  }
}
