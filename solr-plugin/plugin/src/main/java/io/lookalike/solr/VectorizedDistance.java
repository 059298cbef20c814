package io.lookalike.solr;

import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * {@link SquaredDistance}'s summation order with 256-bit SIMD: one {@link FloatVector} holds the
 * eight lanes. Only this class refers to {@code jdk.incubator.vector}, so the plugin still loads,
 * and falls back to the scalar kernel, when the JVM runs without that module.
 */
final class VectorizedDistance implements SquaredDistance.Kernel {

  private static final VectorSpecies<Float> SPECIES = FloatVector.SPECIES_256;

  private VectorizedDistance() {}

  /**
   * The kernel, or null without the vector module or where 256-bit vectors are not native
   * (emulated vector operations are far slower than the scalar loop).
   */
  static SquaredDistance.Kernel loadOrNull() {
    try {
      if (FloatVector.SPECIES_PREFERRED.length() < SquaredDistance.LANES) {
        return null;
      }
      return new VectorizedDistance();
    } catch (LinkageError e) { // NoClassDefFoundError: jdk.incubator.vector is not in the JVM
      return null;
    }
  }

  @Override
  public float squaredDistanceBounded(
      float[] query, int length, byte[] bytes, int offset, float bound) {
    FloatVector lanes = FloatVector.zero(SPECIES);
    float[] sums = new float[SquaredDistance.LANES];
    int vectorEnd = length - length % SquaredDistance.LANES;
    int dim = 0;
    while (dim < vectorEnd) {
      int blockEnd = Math.min(dim + SquaredDistance.BLOCK, vectorEnd);
      for (; dim < blockEnd; dim += SquaredDistance.LANES) {
        FloatVector stored =
            FloatVector.fromByteArray(
                SPECIES, bytes, offset + dim * Float.BYTES, ByteOrder.LITTLE_ENDIAN);
        FloatVector diff = FloatVector.fromArray(SPECIES, query, dim).sub(stored);
        lanes = lanes.add(diff.mul(diff));
      }
      if (dim < vectorEnd) {
        lanes.intoArray(sums, 0);
        float sum = SquaredDistance.sumLanes(sums);
        if (sum > bound) {
          return sum;
        }
      }
    }
    // The last block: the tail that fills no whole vector, lane by lane, then the final sum.
    lanes.intoArray(sums, 0);
    for (; dim < length; dim++) {
      float diff = query[dim] - SquaredDistance.floatAt(bytes, offset, dim);
      sums[dim % SquaredDistance.LANES] += diff * diff;
    }
    return SquaredDistance.sumLanes(sums);
  }
}
