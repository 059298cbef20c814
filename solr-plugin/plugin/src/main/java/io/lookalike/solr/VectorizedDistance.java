package io.lookalike.solr;

import java.nio.ByteOrder;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * {@link SquaredDistance}'s summation order with 256-bit SIMD, for distances and dot products: one
 * {@link FloatVector} holds the eight lanes; and {@link VectorSketch}'s dot products with codes,
 * eight bytes widened to eight floats at a time. Only this class refers to {@code
 * jdk.incubator.vector}, so the plugin still loads, and falls back to the scalar kernels, when the
 * JVM runs without that module.
 */
final class VectorizedDistance implements SquaredDistance.Kernel, VectorSketch.Kernel {

  private static final VectorSpecies<Float> SPECIES = FloatVector.SPECIES_256;
  private static final VectorSpecies<Byte> CODES = ByteVector.SPECIES_64;

  private VectorizedDistance() {}

  /**
   * The kernels, or null where 256-bit vectors are not native (emulated vector operations are far
   * slower than the scalar loop). Without the vector module, loading this class fails: see {@link
   * SquaredDistance#SIMD}.
   */
  static VectorizedDistance loadOrNull() {
    return FloatVector.SPECIES_PREFERRED.length() < SquaredDistance.LANES
        ? null
        : new VectorizedDistance();
  }

  @Override
  public float sum(
      SquaredDistance.Term term, float[] query, int length, byte[] bytes, int offset, float bound) {
    boolean products = term == SquaredDistance.Term.PRODUCT;
    FloatVector lanes = FloatVector.zero(SPECIES);
    float[] sums = new float[SquaredDistance.LANES];
    int vectorEnd = length - length % SquaredDistance.LANES;
    int block = SquaredDistance.checkEvery(bound);
    int dim = 0;
    while (dim < vectorEnd) {
      int blockEnd = (int) Math.min((long) dim + block, vectorEnd);
      for (; dim < blockEnd; dim += SquaredDistance.LANES) {
        FloatVector stored =
            FloatVector.fromByteArray(
                SPECIES, bytes, offset + dim * Float.BYTES, ByteOrder.LITTLE_ENDIAN);
        FloatVector q = FloatVector.fromArray(SPECIES, query, dim);
        // the term's two forms inline: a loop-invariant test, which the JIT hoists out
        if (products) {
          lanes = lanes.add(q.mul(stored));
        } else {
          FloatVector diff = q.sub(stored);
          lanes = lanes.add(diff.mul(diff));
        }
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
      sums[dim % SquaredDistance.LANES] +=
          term.of(query[dim], SquaredDistance.floatAt(bytes, offset, dim));
    }
    return SquaredDistance.sumLanes(sums);
  }

  /**
   * Two groups of eight codes per step, each widened to floats with its own accumulator: one
   * accumulator would chain every multiply-add on the latency of the previous one.
   */
  @Override
  public float dotCodes(float[] query, int start, int length, byte[] bytes, int codes) {
    int vectorLength = length - length % (2 * SquaredDistance.LANES);
    FloatVector low = FloatVector.zero(SPECIES);
    FloatVector high = FloatVector.zero(SPECIES);
    int i = 0;
    for (; i < vectorLength; i += 2 * SquaredDistance.LANES) {
      int next = i + SquaredDistance.LANES;
      low = widen(bytes, codes + i).fma(FloatVector.fromArray(SPECIES, query, start + i), low);
      high =
          widen(bytes, codes + next).fma(FloatVector.fromArray(SPECIES, query, start + next), high);
    }
    float dot = low.add(high).reduceLanes(VectorOperators.ADD);
    for (; i < length; i++) {
      dot += query[start + i] * bytes[codes + i];
    }
    return dot;
  }

  /** Eight signed bytes as eight floats. */
  private static FloatVector widen(byte[] bytes, int offset) {
    return (FloatVector)
        ByteVector.fromArray(CODES, bytes, offset).convertShape(VectorOperators.B2F, SPECIES, 0);
  }
}
