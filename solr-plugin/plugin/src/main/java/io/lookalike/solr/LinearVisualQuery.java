package io.lookalike.solr;

import java.util.Arrays;

/**
 * Linear visual ranking: matches the documents that have a vector in {@code field} and scores them
 * by a linear function {@code v = w.x + b} of their vector {@code x}, such as a trained
 * classifier's decision function, highest first; the score is an order key of {@code v} ({@link
 * LinearScore}).
 *
 * <p>The dot product is summed in a fixed order (see {@link SquaredDistance#dotProduct}), so {@code
 * v} and its score are identical on every shard and JVM: with ties broken by unique key,
 * distributed top-k merges exactly like a single index. Like {@link VisualQuery} it is exact and
 * brute force over the documents that the other clauses let through; top-k searches skip documents
 * whose sketch bounds their value below the collector's minimum (see {@link LinearBound}).
 */
public final class LinearVisualQuery extends AbstractVisualQuery {

  /**
   * The largest bias magnitude: the weights and vectors have squared norms of at most 2^124 ({@link
   * VectorFormat#MAX_SQUARED_NORM}), so {@code |w.x| <= 2^124}, and its lanes' sums stay below that
   * times {@code 1 + 2^-10} (see {@link VectorFormat}); with {@code |b| <= 2^126} every value and
   * every partial sum stays below 2^127, finite in float32.
   */
  static final float MAX_BIAS = 0x1p126f;

  final float[] weights;
  final float bias;

  /**
   * @param field the {@link ImageVectorField} to search
   * @param weights {@code w}; its length is the dimension
   * @param bias {@code b}, finite and within {@link #MAX_BIAS} in magnitude
   */
  public LinearVisualQuery(String field, float[] weights, float bias) {
    super(field);
    if (Float.isFinite(bias) == false || Math.abs(bias) > MAX_BIAS) {
      throw new IllegalArgumentException("bias must be finite and at most 2^126, got " + bias);
    }
    // -0.0 and 0.0 are the same function (the lanes start at 0.0) and must be the same cache key
    this.weights = new float[weights.length];
    for (int i = 0; i < weights.length; i++) {
      this.weights[i] = weights[i] + 0f;
    }
    this.bias = bias + 0f;
  }

  public float[] getWeights() {
    return weights.clone();
  }

  public float getBias() {
    return bias;
  }

  @Override
  int dimension() {
    return weights.length;
  }

  @Override
  boolean hasThreshold() {
    return false;
  }

  @Override
  SegmentRanking ranking(ImageVectorValues values, float boost) {
    return new LinearRanking(values, weights, bias);
  }

  @Override
  public String toString(String defaultField) {
    return "visualLinear("
        + field
        + ", dim="
        + weights.length
        + ", bias="
        + bias
        + ", "
        + VectorFormat.abbreviate(weights)
        + ")";
  }

  @Override
  public boolean equals(Object other) {
    return sameClassAs(other) && equalsTo(getClass().cast(other));
  }

  private boolean equalsTo(LinearVisualQuery other) {
    return field.equals(other.field)
        && Float.compare(bias, other.bias) == 0
        && Arrays.equals(weights, other.weights);
  }

  @Override
  public int hashCode() {
    int h = classHash();
    h = 31 * h + field.hashCode();
    h = 31 * h + Float.hashCode(bias);
    h = 31 * h + Arrays.hashCode(weights);
    return h;
  }
}
