package io.lookalike.solr;

import java.io.IOException;
import org.apache.lucene.search.DocIdSetIterator;
import org.apache.lucene.search.Scorer;
import org.apache.lucene.search.TwoPhaseIterator;
import org.apache.lucene.search.Weight;

/**
 * Scores the documents of one segment by {@code boost / (1 + sqdist)}.
 *
 * <p>Computing a distance costs a pass over the whole vector, so the scorer is two-phase: its
 * approximation is "has a vector" (the doc-values iterator) and the distance is only computed in
 * {@link TwoPhaseIterator#matches()}. Lucene then runs cheaper clauses and filters first and only
 * asks about documents that survived them.
 *
 * <p>A document matches when its distance is within a bound: {@code maxDist}, tightened by {@link
 * #setMinCompetitiveScore} when the collector only needs the top hits, so that the distance of a
 * document that cannot enter the top-k is abandoned part-way (see {@link
 * SquaredDistance#squaredDistanceBounded}). Non-scoring uses (filters, {@code fq}) never call
 * {@code setMinCompetitiveScore}, so there only {@code maxDist} decides.
 */
final class VisualScorer extends Scorer {

  /**
   * Relative slack on the distance bound derived from a minimum score. The float roundings of the
   * sum and of the division in the score are at most 2^-24 each, so 1e-6 is far above their total:
   * no document scoring at least the minimum is ever skipped.
   */
  private static final double BOUND_SLACK = 1e-6;

  private final float maxDist;
  private final float boost;
  private final TwoPhaseIterator twoPhase;
  private final DocIdSetIterator iterator;

  /** A document matches if and only if its distance is {@code <= bound}. */
  private float bound;

  /** The distance of the current document, valid once {@code matches()} returned true. */
  private float distance;

  /**
   * @param candidates the documents to compute distances for, positioning {@code values}: its
   *     iterator, or a conjunction that includes it
   */
  VisualScorer(
      Weight weight,
      ImageVectorValues values,
      DocIdSetIterator candidates,
      float[] target,
      float maxDist,
      float boost) {
    super(weight);
    this.maxDist = maxDist;
    this.boost = boost;
    this.bound = maxDist;
    this.twoPhase =
        new TwoPhaseIterator(candidates) {
          @Override
          public boolean matches() throws IOException {
            distance = values.squaredDistance(target, bound);
            return distance <= bound;
          }

          /** A subtraction and a multiply-add per dimension. */
          @Override
          public float matchCost() {
            return 2f * target.length;
          }
        };
    this.iterator = TwoPhaseIterator.asDocIdSetIterator(twoPhase);
  }

  /** The score of a document at squared distance {@code distance}. */
  static float score(float boost, float distance) {
    return boost / (1f + distance);
  }

  /**
   * The largest distance whose score can be {@code >= minScore}, rounded up: inverts {@code
   * score(d) = boost / (1 + d)} in double precision and adds {@link #BOUND_SLACK}.
   */
  static float maxCompetitiveDistance(float boost, float minScore) {
    if (minScore <= 0f) {
      return Float.POSITIVE_INFINITY;
    }
    double distance = (double) boost / minScore * (1 + BOUND_SLACK) - 1;
    return distance >= Float.MAX_VALUE ? Float.POSITIVE_INFINITY : Math.nextUp((float) distance);
  }

  @Override
  public int docID() {
    return iterator.docID();
  }

  @Override
  public DocIdSetIterator iterator() {
    return iterator;
  }

  @Override
  public TwoPhaseIterator twoPhaseIterator() {
    return twoPhase;
  }

  @Override
  public float score() {
    return score(boost, distance);
  }

  /** Distances are non-negative, so no document scores above the boost. */
  @Override
  public float getMaxScore(int upTo) {
    return boost;
  }

  @Override
  public void setMinCompetitiveScore(float minScore) {
    bound = bound(maxDist, boost, minScore);
  }

  /** The distance bound of a document that must score at least {@code minScore}. */
  static float bound(float maxDist, float boost, float minScore) {
    return Math.min(maxDist, maxCompetitiveDistance(boost, minScore));
  }
}
