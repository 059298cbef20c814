package io.lookalike.solr;

import java.util.List;

/**
 * Query vectors made from examples: the centroid of liked products, moved away from disliked ones.
 *
 * <p>Ranking by the distance to {@code t = p + w (p - n)}, where {@code p} is the liked centroid
 * and {@code n} the disliked one, is ranking by {@code |x - p|^2 - lambda |x - n|^2} with {@code
 * lambda = w / (1 + w)}, up to a constant and a positive factor: closer to what the shopper liked,
 * farther from what they rejected. It stays an exact distance ranking to one point, so top-k
 * pruning, {@code maxDist} and identical scores on every shard all still hold.
 */
final class QueryVectors {

  private QueryVectors() {}

  /** The component-wise mean, summed in double precision. */
  static float[] mean(List<float[]> vectors) {
    int dimension = vectors.get(0).length;
    double[] sum = new double[dimension];
    for (float[] vector : vectors) {
      for (int i = 0; i < dimension; i++) {
        sum[i] += vector[i];
      }
    }
    float[] mean = new float[dimension];
    for (int i = 0; i < dimension; i++) {
      mean[i] = (float) (sum[i] / vectors.size());
    }
    return mean;
  }

  /** {@code positive + weight * (positive - negative)}. */
  static float[] awayFrom(float[] positive, float[] negative, float weight) {
    float[] target = new float[positive.length];
    for (int i = 0; i < positive.length; i++) {
      target[i] = (float) (positive[i] + (double) weight * (positive[i] - negative[i]));
    }
    return target;
  }
}
