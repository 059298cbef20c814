package io.lookalike.solr;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;

/**
 * The distance kernel: squared Euclidean distance between a query vector and a vector stored as
 * little-endian float32 bytes, read in place (no decoding into a float[] per document).
 *
 * <p>The summation order is fixed, so that the same two vectors give a bit-identical distance on
 * every shard, replica and JVM, with or without SIMD, which keeps scores and tie-breaks of a
 * distributed search identical to a single-index search. The order is that of an 8-lane SIMD loop:
 * dimension {@code i} is added to lane {@code i % 8} (dimension 0 upward, a multiply then an add,
 * never fused), and the distance is {@code lane[0] + lane[1] + ... + lane[7]}, added in that order.
 * {@link VectorizedDistance} computes it with {@code jdk.incubator.vector} when the JVM runs with
 * {@code --add-modules jdk.incubator.vector} on hardware with 256-bit vectors; {@link #scalar}
 * computes the very same operations one float at a time otherwise.
 */
public final class SquaredDistance {

  /** Partial sums, one per SIMD lane of a 256-bit float vector. */
  static final int LANES = 8;

  /**
   * How many dimensions are summed between two checks against the bound: a check costs a sum of the
   * lanes, and 64 keeps the wasted work per abandoned vector small. A multiple of {@link #LANES}.
   */
  static final int BLOCK = 64;

  private static final VarHandle FLOAT_LE =
      MethodHandles.byteArrayViewVarHandle(float[].class, ByteOrder.LITTLE_ENDIAN);

  /** The SIMD kernels, or null when the vector module is absent or too narrow here. */
  static final VectorizedDistance SIMD = loadSimd();

  /** One implementation of the summation order described above. */
  interface Kernel {
    float squaredDistanceBounded(float[] query, int length, byte[] bytes, int offset, float bound);
  }

  private SquaredDistance() {}

  private static VectorizedDistance loadSimd() {
    try {
      return VectorizedDistance.loadOrNull();
    } catch (LinkageError e) { // NoClassDefFoundError: jdk.incubator.vector is not in the JVM
      return null;
    }
  }

  /** Whether distances are computed with SIMD instructions in this JVM. */
  public static boolean isVectorized() {
    return SIMD != null;
  }

  /**
   * The squared distance between {@code query} and the {@code query.length} floats stored at {@code
   * offset} in {@code bytes}.
   */
  public static float squaredDistance(float[] query, byte[] bytes, int offset) {
    return squaredDistanceBounded(query, query.length, bytes, offset, Float.POSITIVE_INFINITY);
  }

  /** Like {@link #squaredDistanceBounded(float[], int, byte[], int, float)} over all dimensions. */
  public static float squaredDistanceBounded(float[] query, byte[] bytes, int offset, float bound) {
    return squaredDistanceBounded(query, query.length, bytes, offset, bound);
  }

  /**
   * The squared distance over the first {@code length} dimensions, giving up as soon as it is known
   * to exceed {@code bound}: returns the exact distance when it is {@code <= bound}, otherwise some
   * value {@code > bound}.
   *
   * <p>Abandoning is exact, not approximate, and so is using a prefix of the dimensions as a lower
   * bound of the whole: every lane only grows (its terms are non-negative and rounding is
   * monotone), and the final sum of the lanes is monotone in each lane, so the fixed-order sum of
   * the lanes at any point never exceeds the complete distance.
   */
  public static float squaredDistanceBounded(
      float[] query, int length, byte[] bytes, int offset, float bound) {
    Kernel kernel = SIMD == null ? SquaredDistance::scalar : SIMD;
    return kernel.squaredDistanceBounded(query, length, bytes, offset, bound);
  }

  /** The reference implementation: the operations of the SIMD loop, one lane at a time. */
  static float scalar(float[] query, int length, byte[] bytes, int offset, float bound) {
    float[] lanes = new float[LANES];
    int dim = 0;
    while (dim < length) {
      int blockEnd = Math.min(dim + BLOCK, length);
      for (; dim < blockEnd; dim++) {
        float diff = query[dim] - floatAt(bytes, offset, dim);
        lanes[dim % LANES] += diff * diff;
      }
      float sum = sumLanes(lanes);
      if (sum > bound || dim == length) {
        return sum;
      }
    }
    return 0f;
  }

  /** Component {@code dim} of the little-endian float32 vector stored at {@code offset}. */
  static float floatAt(byte[] bytes, int offset, int dim) {
    return (float) FLOAT_LE.get(bytes, offset + dim * Float.BYTES);
  }

  /** The lanes added in the fixed order 0, 1, ..., 7. */
  static float sumLanes(float[] lanes) {
    float sum = 0f;
    for (float lane : lanes) {
      sum += lane;
    }
    return sum;
  }
}
