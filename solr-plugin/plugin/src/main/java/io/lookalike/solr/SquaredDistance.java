package io.lookalike.solr;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;

/**
 * The distance kernel: squared Euclidean distance between a query vector and a vector stored as
 * little-endian float32 bytes, read in place (no decoding into a float[] per document).
 *
 * <p>The sum is accumulated in a single float, in a fixed order (dimension 0 upward), and Java
 * never fuses or reorders float arithmetic. So the same two vectors give a bit-identical distance
 * on every shard, replica and JVM, which keeps scores and tie-breaks of a distributed search
 * identical to a single-index search.
 */
public final class SquaredDistance {

  private static final VarHandle FLOAT_LE =
      MethodHandles.byteArrayViewVarHandle(float[].class, ByteOrder.LITTLE_ENDIAN);

  /**
   * How many dimensions are summed between two checks against the bound: checking every dimension
   * would cost more than it saves, and 32 keeps the wasted work per abandoned vector small.
   */
  static final int BLOCK = 32;

  private SquaredDistance() {}

  /**
   * The squared distance between {@code query} and the {@code query.length} floats stored at {@code
   * offset} in {@code bytes}.
   */
  public static float squaredDistance(float[] query, byte[] bytes, int offset) {
    return squaredDistanceBounded(query, bytes, offset, Float.POSITIVE_INFINITY);
  }

  /**
   * Like {@link #squaredDistance} but gives up as soon as the distance is known to exceed {@code
   * bound}: returns the exact distance when it is {@code <= bound}, otherwise some value {@code >
   * bound} (the partial sum). Abandoning is exact, not approximate: the terms are non-negative and
   * float addition is monotone, so once a partial sum exceeds the bound the full sum does too.
   */
  public static float squaredDistanceBounded(float[] query, byte[] bytes, int offset, float bound) {
    float sum = 0f;
    int dim = 0;
    int pos = offset;
    while (dim < query.length) {
      int blockEnd = Math.min(dim + BLOCK, query.length);
      for (; dim < blockEnd; dim++, pos += Float.BYTES) {
        float diff = query[dim] - (float) FLOAT_LE.get(bytes, pos);
        sum += diff * diff;
      }
      if (sum > bound) {
        return sum;
      }
    }
    return sum;
  }
}
