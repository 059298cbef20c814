package io.lookalike.solr;

import java.io.IOException;
import org.apache.lucene.search.Explanation;

/**
 * How a visual query ranks the documents of one segment: a float key per document, computed for
 * the current document of {@link #values}, the lower the better, and the score a key becomes. The
 * scorers ({@link VisualScorer}, {@link VisualBulkScorer}) and the post filter ({@link
 * VisualPostFilter}) are the same for every mode: a document matches when its key is within a
 * bound, the query's threshold tightened by the collector's minimum competitive score, and a key
 * known to exceed the bound may be abandoned part-way, or not computed at all.
 *
 * <p>{@link DistanceRanking}: the key is the squared distance to a point. {@link LinearRanking}:
 * minus the value of a linear function.
 */
abstract class SegmentRanking {

  /** The segment's vectors, positioned on the current document. */
  final ImageVectorValues values;

  SegmentRanking(ImageVectorValues values) {
    this.values = values;
  }

  /** The bound before any minimum score: the query's threshold, infinity when it has none. */
  abstract float threshold();

  /**
   * The bound of the documents that score at least {@code minScore} and pass the threshold; below
   * any key (negative infinity) when nothing can score that much.
   */
  abstract float bound(float minScore);

  /**
   * The current document's key when it is {@code <= bound}, otherwise some value {@code > bound};
   * the document must have a vector.
   */
  abstract float key(float bound) throws IOException;

  /**
   * Rules documents out a batch at a time, without their vectors: {@code docs[0..count)}
   * (ascending, each with a vector) become those whose key may be within {@code bound}, and their
   * new count is returned. Then {@link #keyScreened} gives each one's key, in order. By default
   * nothing is ruled out.
   */
  int screen(int[] docs, int count, float bound) throws IOException {
    return count;
  }

  /** Like {@link #key}, for the {@code i}-th document kept by the last {@link #screen}. */
  float keyScreened(int i, float bound) throws IOException {
    return key(bound);
  }

  /**
   * A lower bound of the key of the current document of {@code ahead}, another reader of this
   * segment's vectors (which may be ahead of {@link #values}), from what it holds besides the
   * vector: at most the key, or some value above {@code limit} once known to exceed it; negative
   * infinity when nothing bounds it. Reads no vector: see {@link BlockMaxScores}.
   */
  abstract float keyLowerBound(ImageVectorValues ahead, float limit) throws IOException;

  /** Whether {@link #keyLowerBound} bounds anything in this segment. */
  abstract boolean hasKeyBounds();

  /** The score of a document whose key is {@code key}; it never increases with the key. */
  abstract float score(float key);

  /** No document scores more. */
  abstract float maxScore();

  /** What {@code TwoPhaseIterator.matchCost} says: about the operations of one key. */
  abstract float matchCost();

  /** Why the current document (which has a vector) matches, with its score, or why not. */
  abstract Explanation explain() throws IOException;

  /** Whether the current document passes the threshold: all that a filter asks. */
  final boolean withinThreshold() throws IOException {
    float threshold = threshold();
    return threshold == Float.POSITIVE_INFINITY || key(threshold) <= threshold;
  }
}
