package io.lookalike.solr;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;

/**
 * The vector kernels: the squared Euclidean distance between a query vector and a vector stored as
 * little-endian float32 bytes, read in place (no decoding into a float[] per document), and their
 * dot product, for the linear mode ({@link LinearVisualQuery}).
 *
 * <p>The summation order is fixed, so that the same two vectors give a bit-identical result on
 * every shard, replica and JVM, with or without SIMD, which keeps scores and tie-breaks of a
 * distributed search identical to a single-index search. The order is that of an 8-lane SIMD loop:
 * dimension {@code i} is added to lane {@code i % 8} (dimension 0 upward, a multiply then an add,
 * never fused), and the result is {@code lane[0] + lane[1] + ... + lane[7]}, added in that order.
 * Both sums share it, and one loop: only the term a dimension adds differs (see {@link Term}).
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

  /** What dimension {@code i} adds to its lane, for query {@code q} and stored vector {@code x}. */
  enum Term {
    /** {@code (q[i] - x[i])^2}: a subtraction, then a multiply. */
    SQUARED_DIFFERENCE,
    /** {@code q[i] * x[i]}. */
    PRODUCT;

    float of(float query, float stored) {
      if (this == PRODUCT) {
        return query * stored;
      }
      float diff = query - stored;
      return diff * diff;
    }
  }

  /** One implementation of the summation order described above. */
  interface Kernel {
    /**
     * The fixed-order sum of {@code term} over the first {@code length} dimensions. Only a sum of
     * squares, whose lanes only grow, may give up early: as soon as it exceeds {@code bound} it
     * returns some value {@code > bound}; pass infinity for a dot product.
     */
    float sum(Term term, float[] query, int length, byte[] bytes, int offset, float bound);
  }

  /** The SIMD kernel where this JVM has one, the scalar one otherwise. */
  static final Kernel KERNEL = SIMD == null ? SquaredDistance::scalar : SIMD;

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
    return KERNEL.sum(Term.SQUARED_DIFFERENCE, query, length, bytes, offset, bound);
  }

  /**
   * The dot product of {@code query} and the {@code query.length} floats stored at {@code offset}
   * in {@code bytes}, in the fixed order: bit-identical everywhere, like the distance.
   */
  public static float dotProduct(float[] query, byte[] bytes, int offset) {
    return KERNEL.sum(Term.PRODUCT, query, query.length, bytes, offset, Float.POSITIVE_INFINITY);
  }

  /** How many dimensions a kernel sums between two checks against {@code bound}. */
  static int checkEvery(float bound) {
    // no bound to check, nothing to give up on: one block, the same sum without the checks
    return bound == Float.POSITIVE_INFINITY ? Integer.MAX_VALUE : BLOCK;
  }

  /** The reference implementation: the operations of the SIMD loop, one lane at a time. */
  static float scalar(Term term, float[] query, int length, byte[] bytes, int offset, float bound) {
    float[] lanes = new float[LANES];
    int block = checkEvery(bound);
    int dim = 0;
    while (dim < length) {
      int blockEnd = (int) Math.min((long) dim + block, length);
      for (; dim < blockEnd; dim++) {
        lanes[dim % LANES] += term.of(query[dim], floatAt(bytes, offset, dim));
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
