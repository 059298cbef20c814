package io.lookalike.solr;

import java.io.IOException;
import org.apache.lucene.index.DocValues;
import org.apache.lucene.index.LeafReaderContext;
import org.apache.lucene.search.Explanation;
import org.apache.lucene.search.Scorer;
import org.apache.lucene.search.Weight;

/** The {@link Weight} of a {@link VisualQuery}: one {@link VisualScorer} per segment. */
final class VisualWeight extends Weight {

  private final VisualQuery query;
  private final float boost;

  VisualWeight(VisualQuery query, float boost) {
    super(query);
    this.query = query;
    this.boost = boost;
  }

  /** Null for a segment where no document has a vector: nothing there can match. */
  @Override
  public Scorer scorer(LeafReaderContext context) throws IOException {
    ImageVectorValues values = vectors(context);
    return values == null
        ? null
        : new VisualScorer(this, values, query.target, query.maxDist, boost);
  }

  @Override
  public boolean isCacheable(LeafReaderContext context) {
    return DocValues.isCacheable(context, query.field);
  }

  @Override
  public Explanation explain(LeafReaderContext context, int doc) throws IOException {
    ImageVectorValues values = vectors(context);
    if (values == null || values.advanceExact(doc) == false) {
      return Explanation.noMatch("no vector in " + query.field);
    }
    float distance = values.squaredDistance(query.target, Float.POSITIVE_INFINITY);
    if (distance > query.maxDist) {
      return Explanation.noMatch("sqdist " + distance + " > maxDist " + query.maxDist);
    }
    return Explanation.match(
        VisualScorer.score(boost, distance),
        "sqdist="
            + distance
            + " (maxDist="
            + query.maxDist
            + "), computed as boost / (1 + sqdist) from:",
        Explanation.match(boost, "boost"),
        Explanation.match(distance, "sqdist, the squared Euclidean distance to the query vector"));
  }

  private ImageVectorValues vectors(LeafReaderContext context) throws IOException {
    return ImageVectorValues.get(context.reader(), query.field, query.target.length);
  }
}
