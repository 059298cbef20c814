package io.lookalike.solr;

import java.io.IOException;
import org.apache.lucene.search.DocIdSetIterator;
import org.apache.lucene.search.Scorer;
import org.apache.lucene.search.TwoPhaseIterator;
import org.apache.lucene.search.Weight;

/**
 * Scores the documents of one segment by their distance, in the query's {@link VisualScore} form.
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

  private final VisualScore form;
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
      VisualScore form,
      float boost) {
    super(weight);
    this.form = form;
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

          /**
           * A subtraction and a multiply-add per component of the whole vector; with a threshold
           * and a sketch, most documents are ruled out by the first sketch stage instead (about an
           * eighth of the components, a multiply-add per byte), counted as a quarter of the
           * components for the ones that go on to their whole vector.
           */
          @Override
          public float matchCost() {
            return maxDist != Float.POSITIVE_INFINITY && values.hasSketches()
                ? target.length / 4f
                : 2f * target.length;
          }
        };
    this.iterator = TwoPhaseIterator.asDocIdSetIterator(twoPhase);
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
    return form.score(boost, distance);
  }

  /** Distances are non-negative, so no document scores above that of distance 0. */
  @Override
  public float getMaxScore(int upTo) {
    return form.score(boost, 0f);
  }

  @Override
  public void setMinCompetitiveScore(float minScore) {
    bound = form.bound(maxDist, boost, minScore);
  }
}
