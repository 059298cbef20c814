package io.lookalike.solr;

import java.io.IOException;
import org.apache.lucene.search.Explanation;

/**
 * {@link LinearVisualQuery}'s ranking of one segment: by the value {@code v = w.x + b}, computed
 * in float as {@code dotProduct(w, x) + b} (see {@link SquaredDistance#dotProduct}), scored by
 * {@link LinearScore}. The key is {@code -v}: the scorers keep the documents whose key is within a
 * bound, the lowest first, as for distances, and negation is exact, so keys order exactly the other
 * way round. There is no threshold, so a document with a vector always matches; under a minimum
 * competitive score, {@link LinearBound} rules out, from the sketches, documents whose value cannot
 * reach it.
 */
final class LinearRanking extends SegmentRanking {

  private final float[] weights;
  private final float bias;
  private final LinearBound upper; // null where the segment stores no bound

  LinearRanking(ImageVectorValues values, float[] weights, float bias) {
    super(values);
    this.weights = weights;
    this.bias = bias;
    this.upper =
        values.hasDotBounds() ? new LinearBound(VectorSketch.KERNEL, weights, bias) : null;
  }

  @Override
  float threshold() {
    return Float.POSITIVE_INFINITY;
  }

  /** Minus the least competitive value: negative infinity when no value can score that much. */
  @Override
  float bound(float minScore) {
    return -LinearScore.minCompetitiveValue(minScore);
  }

  @Override
  float key(float bound) throws IOException {
    if (bound != Float.POSITIVE_INFINITY
        && upper != null
        && upper.rulesOut(values, values.docID(), -bound)) {
      return Float.POSITIVE_INFINITY;
    }
    return -value();
  }

  /** Keeps the documents whose value may reach {@code -bound}; all of them without a bound. */
  @Override
  int screen(int[] docs, int count, float bound) throws IOException {
    if (bound == Float.POSITIVE_INFINITY || upper == null) {
      return count;
    }
    int kept = 0;
    for (int i = 0; i < count; i++) {
      if (upper.rulesOut(values, docs[i], -bound) == false) {
        docs[kept++] = docs[i];
      }
    }
    return kept;
  }

  /** The exact key: screening already ruled out what the bound could. */
  @Override
  float keyScreened(int i, float bound) throws IOException {
    return -value();
  }

  /** Minus {@link LinearBound}'s bound of the value, rounded up to a float. */
  @Override
  float keyLowerBound(ImageVectorValues ahead, float limit) throws IOException {
    double value = upper == null ? Double.NaN : upper.upperBound(ahead, ahead.docID());
    if (Double.isNaN(value)) {
      return Float.NEGATIVE_INFINITY;
    }
    float rounded = (float) value;
    return -(rounded < value ? Math.nextUp(rounded) : rounded);
  }

  @Override
  boolean hasKeyBounds() {
    return upper != null;
  }

  /** The current document's value, as every shard computes it. */
  private float value() throws IOException {
    return values.dotProduct(weights) + bias;
  }

  /** The score of {@code -key}, the value; the query's boost is ignored, as for the rank score. */
  @Override
  float score(float key) {
    return LinearScore.score(-key);
  }

  @Override
  float maxScore() {
    return LinearScore.score(Float.MAX_VALUE);
  }

  /** A multiply-add per component of the whole vector. */
  @Override
  float matchCost() {
    return weights.length;
  }

  @Override
  Explanation explain() throws IOException {
    float dot = values.dotProduct(weights);
    float value = dot + bias;
    return Explanation.match(
        LinearScore.score(value),
        "w.x + b=" + value + ", computed as " + LinearScore.formula() + " from:",
        Explanation.match(dot, "w.x, the dot product of the weights and the vector"),
        Explanation.match(bias, "b, the bias"));
  }
}
