package io.lookalike.solr;

import java.io.IOException;
import org.apache.lucene.search.DocIdSetIterator;
import org.apache.lucene.search.Scorer;
import org.apache.lucene.search.TwoPhaseIterator;
import org.apache.lucene.search.Weight;

/**
 * Scores the documents of one segment by their key (a distance, or minus a linear value), as the
 * query's {@link SegmentRanking} says.
 *
 * <p>Computing a key costs a pass over the whole vector, so the scorer is two-phase: its
 * approximation is "has a vector" (the doc-values iterator) and the key is only computed in {@link
 * TwoPhaseIterator#matches()}. Lucene then runs cheaper clauses and filters first and only asks
 * about documents that survived them.
 *
 * <p>A document matches when its key is within a bound: the query's threshold ({@code maxDist}),
 * tightened by {@link #setMinCompetitiveScore} when the collector only needs the top hits, so that
 * the key of a document that cannot enter the top-k is abandoned part-way or ruled out by a bound
 * from the sketch. Non-scoring uses (filters, {@code fq}) never call {@code
 * setMinCompetitiveScore}, so there only the threshold decides.
 *
 * <p>Inside a boolean query that only needs the top hits, {@link #advanceShallow} and {@link
 * #getMaxScore} answer per block of documents from their sketches ({@link BlockMaxScores}), so that
 * MaxScore or WAND skip the documents whose visual score cannot make them competitive.
 */
final class VisualScorer extends Scorer {

  private final SegmentRanking ranking;
  private final TwoPhaseIterator twoPhase;
  private final DocIdSetIterator iterator;

  /** A document matches if and only if its key is {@code <= bound}. */
  private float bound;

  /** The key of the current document, valid once {@code matches()} returned true. */
  private float key;

  private final BlockMaxScores blockMaxima; // null: the ranking's maximum everywhere

  /** The last target of {@link #advanceShallow}. */
  private int shallowTarget = -1;

  /**
   * @param candidates the documents to compute keys for, positioning the ranking's values: their
   *     iterator, or a conjunction that includes it
   * @param blockMaxima the maxima of blocks of documents, or null for the ranking's maximum
   */
  VisualScorer(
      Weight weight,
      SegmentRanking ranking,
      DocIdSetIterator candidates,
      BlockMaxScores blockMaxima) {
    super(weight);
    this.ranking = ranking;
    this.blockMaxima = blockMaxima;
    this.bound = ranking.threshold();
    this.twoPhase =
        new TwoPhaseIterator(candidates) {
          @Override
          public boolean matches() throws IOException {
            key = ranking.key(bound);
            return key <= bound;
          }

          @Override
          public float matchCost() {
            return ranking.matchCost();
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
    return ranking.score(key);
  }

  @Override
  public int advanceShallow(int target) {
    shallowTarget = Math.max(shallowTarget, target);
    return blockMaxima == null ? DocIdSetIterator.NO_MORE_DOCS : blockMaxima.blockEnd(target);
  }

  /** From the last shallow target, or the current document if it is further (see Scorer). */
  @Override
  public float getMaxScore(int upTo) throws IOException {
    return blockMaxima == null
        ? ranking.maxScore()
        : blockMaxima.maxScore(Math.max(shallowTarget, docID()), upTo, bound);
  }

  @Override
  public void setMinCompetitiveScore(float minScore) {
    bound = ranking.bound(minScore);
  }
}
