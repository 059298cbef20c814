package io.lookalike.solr;

import org.apache.lucene.util.NumericUtils;

/**
 * The score of the linear mode ({@link LinearVisualQuery}): an order key of the float value {@code
 * v = w.x + b}, which may have either sign, as a Lucene score, which may not.
 *
 * <p>{@link NumericUtils#floatToSortableInt} maps the finite floats, in order, onto the ints from
 * {@code -0x7F800000} ({@code -Float.MAX_VALUE}) to {@code 0x7F7FFFFF} ({@code Float.MAX_VALUE}).
 * Halved by an arithmetic shift and offset by {@code 0x3FC00000}, these become {@code 0} to {@code
 * 0x7F7FFFFF}: exactly the bit patterns of the non-negative finite floats, which order like their
 * bits. So {@code score(v) = intBitsToFloat((floatToSortableInt(v) >> 1) + 0x3FC00000)} is in
 * {@code [0, Float.MAX_VALUE]} and never decreases with {@code v}.
 *
 * <p>The shift merges each even sortable int with the odd one above it: two adjacent floats, one
 * ulp apart, share a score (the finite floats are twice as many as the non-negative ones, so some
 * merging is unavoidable). That is finer than the value's own rounding error, and equal scores are
 * then broken by unique key ({@code sort=score desc, id asc}) like exact ties. Otherwise the score
 * is strictly increasing in {@code v}. {@code -0.0} is scored as {@code 0.0}, the value it equals.
 */
final class LinearScore {

  /** The sortable int of {@code -Float.MAX_VALUE}, halved and negated: it becomes score bits 0. */
  private static final int OFFSET = 0x3FC00000;

  private LinearScore() {}

  /** The score of a document whose value is {@code value} (finite). */
  static float score(float value) {
    return Float.intBitsToFloat((NumericUtils.floatToSortableInt(value + 0f) >> 1) + OFFSET);
  }

  /**
   * The exact inverse of {@link #score}: the smallest value with this score; the other one is the
   * next float up ({@code Math.nextUp}). For any score in {@code [0, Float.MAX_VALUE]}.
   */
  static float decode(float score) {
    return NumericUtils.sortableIntToFloat((Float.floatToRawIntBits(score) - OFFSET) << 1);
  }

  /**
   * The smallest value that scores at least {@code minScore}: negative infinity when any does,
   * positive infinity when none can (a minimum above {@code Float.MAX_VALUE}). Exact: a value
   * scores {@code >= minScore} if and only if it is {@code >= minCompetitiveValue(minScore)}, since
   * {@code (s >> 1) >= m} if and only if {@code s >= 2m}.
   */
  static float minCompetitiveValue(float minScore) {
    if ((minScore > 0f) == false) { // 0 (or NaN, which Lucene never passes): every value
      return Float.NEGATIVE_INFINITY;
    }
    return minScore > Float.MAX_VALUE ? Float.POSITIVE_INFINITY : decode(minScore);
  }

  static String formula() {
    return "the order key of w.x + b (intBitsToFloat((floatToSortableInt(v) >> 1) + 0x3FC00000))";
  }
}
