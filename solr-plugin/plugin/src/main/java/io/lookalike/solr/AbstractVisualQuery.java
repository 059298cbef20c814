package io.lookalike.solr;

import java.io.IOException;
import java.util.Objects;
import org.apache.lucene.search.IndexSearcher;
import org.apache.lucene.search.Query;
import org.apache.lucene.search.QueryVisitor;
import org.apache.lucene.search.ScoreMode;
import org.apache.lucene.search.Weight;

/**
 * A {@code {!visual}} query over one {@link ImageVectorField}: {@link VisualQuery} ranks by the
 * distance to a point, {@link LinearVisualQuery} by a linear function of the vector. Either
 * matches the documents that have a vector (its candidates) and ranks them one at a time, exactly,
 * through a {@link SegmentRanking} per segment; they share the {@link VisualWeight}, the scorers
 * and the {@link VisualPostFilter}.
 */
public abstract class AbstractVisualQuery extends Query {

  final String field;

  AbstractVisualQuery(String field) {
    this.field = Objects.requireNonNull(field, "field");
  }

  public String getField() {
    return field;
  }

  /** The vectors' dimension. */
  abstract int dimension();

  /**
   * Whether a candidate may not match (a threshold such as {@code maxDist}): matching it then needs
   * its key, even where no score is needed.
   */
  abstract boolean hasThreshold();

  /** The cells that the candidates are limited to, or null for every vector. */
  CellProbe probe() {
    return null;
  }

  /** How the documents of the segment whose vectors are {@code values} rank. */
  abstract SegmentRanking ranking(ImageVectorValues values, float boost);

  @Override
  public Weight createWeight(IndexSearcher searcher, ScoreMode scoreMode, float boost)
      throws IOException {
    return new VisualWeight(this, scoreMode, boost, searcher);
  }

  @Override
  public void visit(QueryVisitor visitor) {
    if (visitor.acceptField(field)) {
      visitor.visitLeaf(this);
    }
  }
}
