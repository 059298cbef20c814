package io.lookalike.solr;

import java.util.Locale;

/**
 * How a squared distance {@code d} becomes a Lucene score: {@code {!visual score=rank}} (the
 * default) or {@code score=similarity}.
 *
 * <p>{@link #RANK} ranks by the exact float distance: no two distances share a score, so near
 * duplicates whose distances differ in the last bits still rank by distance, and equal scores mean
 * equal distances (which the configset's default {@code sort=score desc, id asc} orders by unique
 * key). {@link #SIMILARITY} is {@code boost / (1 + d)} in {@code (0, boost]}: comparable with
 * keyword scores in a hybrid sum, but only about 2^-24 apart near 1, so distances closer than that
 * get equal scores.
 */
enum VisualScore {
  /**
   * The score whose bit pattern is {@code Float.MAX_VALUE}'s minus the distance's: non-negative
   * floats order like their bit patterns, so this is strictly decreasing in {@code d}, one score
   * per distance. A boost would merge neighbouring scores, so it is ignored: this score is for
   * ranking by distance alone.
   */
  RANK {
    @Override
    float score(float boost, float distance) {
      return Float.intBitsToFloat(MAX_BITS - Float.floatToRawIntBits(distance + 0f));
    }

    /** The exact inverse of {@link #score}: no slack needed. */
    @Override
    float maxCompetitiveDistance(float boost, float minScore) {
      if (minScore <= 0f) {
        return Float.POSITIVE_INFINITY;
      }
      int bits = MAX_BITS - Float.floatToRawIntBits(minScore);
      return bits < 0 ? -1f : Float.intBitsToFloat(bits);
    }

    @Override
    String formula() {
      return "the order key of sqdist (Float.MAX_VALUE's bits minus sqdist's)";
    }
  },

  /** {@code boost / (1 + d)}, the form a hybrid keyword + image score adds up. */
  SIMILARITY {
    @Override
    float score(float boost, float distance) {
      return boost / (1f + distance);
    }

    /**
     * Inverts {@code boost / (1 + d)} in double precision and adds {@link #BOUND_SLACK}, rounding
     * up.
     */
    @Override
    float maxCompetitiveDistance(float boost, float minScore) {
      if (minScore <= 0f) {
        return Float.POSITIVE_INFINITY;
      }
      double distance = (double) boost / minScore * (1 + BOUND_SLACK) - 1;
      return distance >= Float.MAX_VALUE ? Float.POSITIVE_INFINITY : Math.nextUp((float) distance);
    }

    @Override
    String formula() {
      return "boost / (1 + sqdist)";
    }
  };

  static final String PARAM = "score";

  private static final int MAX_BITS = Float.floatToRawIntBits(Float.MAX_VALUE);

  /**
   * Relative slack on the distance bound derived from a similarity. The float roundings of the sum
   * and of the division in the score are at most 2^-24 each, so 1e-6 is far above their total: no
   * document scoring at least the minimum is ever skipped.
   */
  private static final double BOUND_SLACK = 1e-6;

  /** The score of a document at squared distance {@code distance}. */
  abstract float score(float boost, float distance);

  /**
   * The largest distance whose score can be {@code >= minScore} (or above): a document beyond it is
   * not competitive. Negative when no document can score that much.
   */
  abstract float maxCompetitiveDistance(float boost, float minScore);

  /** The formula, for explanations. */
  abstract String formula();

  /** The distance bound of a document that must score at least {@code minScore}. */
  float bound(float maxDist, float boost, float minScore) {
    return Math.min(maxDist, maxCompetitiveDistance(boost, minScore));
  }

  /** The score form a {@code score} parameter names; the default when it is null. */
  static VisualScore parse(String value) {
    if (value == null) {
      return RANK;
    }
    for (VisualScore form : values()) {
      if (form.toString().equals(value.strip())) {
        return form;
      }
    }
    throw BadRequest.of(PARAM, "expected rank or similarity, got '" + value + "'");
  }

  @Override
  public String toString() {
    return name().toLowerCase(Locale.ROOT);
  }
}
