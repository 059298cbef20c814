package io.lookalike.solr;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;

/**
 * A compact approximation of a vector's leading dimensions that gives an exact lower bound of its
 * distance to any query: the vector-approximation file of Weber, Schek and Blott (VLDB 1998), kept
 * beside the vector so that a search reads about 300 bytes per document instead of 4 KB.
 *
 * <p>The dimensions are cut into blocks of {@link #BLOCK}. Each dimension is one signed byte,
 * {@code code = round(x / step)} with {@code step = max|x| / 127} over its block, so the block
 * decodes to {@code y = step * code}. Each block stores its step, the norm {@code ||x - y||} of its
 * quantization error (rounded up) and {@code ||y||^2}. By the triangle inequality {@code ||q - x||
 * >= ||q - y|| - ||x - y||}, and {@code ||q - y||^2 = ||q||^2 - 2 step (q . code) + ||y||^2} costs
 * one multiply-add per dimension: a dot product of the query with the codes, the cheapest loop
 * there is over bytes.
 *
 * <p>PCA puts the high-variance dimensions first, so the leading quarter of a 1024-d vector holds
 * most of its spread and rules out nearly all of the documents that cannot enter a top-k. Layout
 * (little-endian): {@code [step, errorNorm, decodedNormSq] per block, then one code per dimension}.
 */
final class VectorSketch {

  /**
   * Components per block. One bound per 128 components is nearly as tight as one per 64 (the
   * quantization error is small next to the distances that decide) and lets most documents be
   * decided by a single test, whose outcome the processor then predicts well.
   */
  static final int BLOCK = 128;

  /** The bytes of one block's step, error norm and decoded squared norm. */
  static final int BLOCK_HEADER = 3 * Float.BYTES;

  /**
   * The bound is multiplied by this before it is compared, so that the float roundings of the
   * bound's sum and of the distance's sum (each below 2^-12 relative, even summing 16384 terms in
   * one accumulator) never let the computed bound exceed the computed distance.
   */
  static final float SAFETY = 1f - 0x1p-10f;

  /**
   * Relative slack on {@code ||q - y||^2} computed from norms and a dot product. Its rounding error
   * is below 270 * 2^-24 * (||q||^2 + ||y||^2) for blocks of 128, even with one accumulator (the
   * dot product's error is bounded through Cauchy-Schwarz, the query's norm adds its own sum):
   * 2^-14 is nearly four times that, and only near-duplicates, whose bound is about 0 anyway, feel
   * it. Subnormal squares (components below 1e-19) lose precision absolutely instead, so the
   * smallest normal float is subtracted as well: far below any distance that ranks real vectors.
   */
  private static final float CANCELLATION = 0x1p-14f;

  private static final VarHandle FLOAT_LE =
      MethodHandles.byteArrayViewVarHandle(float[].class, ByteOrder.LITTLE_ENDIAN);

  /** The dot products of one block, with or without SIMD. */
  interface Kernel {
    /** {@code sum(query[start + i] * bytes[codes + i])} for {@code i < length}. */
    float dotCodes(float[] query, int start, int length, byte[] bytes, int codes);
  }

  /** The SIMD dot product where this JVM has one, the scalar one otherwise. */
  static final Kernel KERNEL =
      SquaredDistance.SIMD == null ? VectorSketch::dotScalar : SquaredDistance.SIMD;

  private VectorSketch() {}

  /** The sketch's length in bytes for {@code dimensions} leading dimensions. */
  static int length(int dimensions) {
    return dimensions + blocks(dimensions) * BLOCK_HEADER;
  }

  /**
   * How many dimensions a sketch of {@code length} bytes covers: the inverse of {@link #length}.
   */
  static int dimensions(int length) {
    int blocks = (length + BLOCK + BLOCK_HEADER - 1) / (BLOCK + BLOCK_HEADER);
    return length - blocks * BLOCK_HEADER;
  }

  static int blocks(int dimensions) {
    return (dimensions + BLOCK - 1) / BLOCK;
  }

  /** The sketch of the components {@code from} (inclusive) to {@code to} of {@code vector}. */
  static byte[] encode(float[] vector, int from, int to) {
    int dimensions = to - from;
    int blocks = blocks(dimensions);
    byte[] sketch = new byte[length(dimensions)];
    int codes = blocks * BLOCK_HEADER;
    for (int block = 0; block < blocks; block++) {
      int start = block * BLOCK;
      int end = Math.min(start + BLOCK, dimensions);
      float maxAbs = 0f;
      for (int i = start; i < end; i++) {
        maxAbs = Math.max(maxAbs, Math.abs(vector[from + i]));
      }
      float step = maxAbs / 127f;
      double errorSq = 0;
      double decodedSq = 0;
      for (int i = start; i < end; i++) {
        float x = vector[from + i];
        int code = step == 0f ? 0 : Math.max(-127, Math.min(127, Math.round(x / step)));
        sketch[codes + i] = (byte) code;
        double decoded = (double) code * step; // exact: 8 bits times 24 bits
        errorSq += (x - decoded) * (x - decoded);
        decodedSq += decoded * decoded;
      }
      int header = block * BLOCK_HEADER;
      FLOAT_LE.set(sketch, header, step);
      // nextUp: the float at or above the (far more precise) double norm
      FLOAT_LE.set(sketch, header + Float.BYTES, Math.nextUp((float) Math.sqrt(errorSq)));
      FLOAT_LE.set(sketch, header + 2 * Float.BYTES, (float) decodedSq);
    }
    return sketch;
  }

  /**
   * The squared norm of each block of the query's components {@code from} to {@code to}: what
   * {@link #accumulate} needs besides the query, for sketches of those components.
   */
  static float[] blockNorms(float[] query, int from, int to) {
    float[] norms = new float[blocks(to - from)];
    for (int i = 0; i < to - from; i++) {
      norms[i / BLOCK] += query[from + i] * query[from + i];
    }
    return norms;
  }

  /** Whether a document whose bound's terms sum to {@code sum} cannot be within {@code bound}. */
  static boolean rulesOut(float sum, float bound) {
    return sum * SAFETY > bound;
  }

  /**
   * Adds to {@code sum}, with {@code kernel} (normally {@link #KERNEL}), the lower-bound terms of
   * the sketch at {@code offset}, of {@code dimensions} components starting at the query's
   * component {@code from} (whose {@link #blockNorms} are {@code norms}), block by block, stopping
   * as soon as the sum {@link #rulesOut} the document (then returning that sum, or infinity).
   * Summed over disjoint components, the terms bound the squared distance from below: a document is
   * only ruled out if its distance exceeds {@code bound}.
   */
  static float accumulate(
      Kernel kernel,
      float[] query,
      float[] norms,
      int from,
      int dimensions,
      byte[] bytes,
      int offset,
      float sum,
      float bound) {
    int codes = codes(offset, dimensions);
    // What the blocks may add before the document is ruled out, and its root while nothing was
    // added: computed once per document, not per block (a division and a square root).
    double limit = (double) bound / SAFETY;
    double rootLimit = Math.sqrt(limit - sum);
    for (int start = 0; start < dimensions; start += BLOCK) {
      int block = start / BLOCK;
      float step = step(bytes, offset, block);
      float errorNorm = errorNorm(bytes, offset, block);
      float decodedSq = decodedSquaredNorm(bytes, offset, block);
      int length = Math.min(BLOCK, dimensions - start);
      float dot = kernel.dotCodes(query, from + start, length, bytes, codes + start);
      float querySq = norms[block];
      float distanceSq =
          querySq
              - 2f * step * dot
              + decodedSq
              - CANCELLATION * (querySq + decodedSq)
              - Float.MIN_NORMAL;
      // The block alone rules the document out when sqrt(distanceSq) - errorNorm exceeds the root
      // of what is left of the bound: tested squared (in double, far finer than the float slack
      // above), so that most documents are ruled out without waiting on a square root.
      double reach = rootLimit + errorNorm;
      if (distanceSq > reach * reach * (1 + 0x1p-40)) {
        return Float.POSITIVE_INFINITY;
      }
      float gap = (distanceSq > 0f ? (float) Math.sqrt(distanceSq) : 0f) * (1f - 0x1p-20f);
      gap -= errorNorm;
      if (gap > 0f) {
        sum += gap * gap;
        if (rulesOut(sum, bound)) {
          return sum;
        }
        rootLimit = Math.sqrt(limit - sum);
      }
    }
    return sum;
  }

  /** Where the codes of the sketch at {@code offset} of {@code dimensions} components start. */
  static int codes(int offset, int dimensions) {
    return offset + blocks(dimensions) * BLOCK_HEADER;
  }

  /** Block {@code block}'s step, of the sketch at {@code offset}. */
  static float step(byte[] bytes, int offset, int block) {
    return floatAt(bytes, offset + block * BLOCK_HEADER);
  }

  /** Block {@code block}'s quantization error norm {@code ||x - y||}, rounded up. */
  static float errorNorm(byte[] bytes, int offset, int block) {
    return floatAt(bytes, offset + block * BLOCK_HEADER + Float.BYTES);
  }

  /** Block {@code block}'s decoded squared norm {@code ||y||^2}, rounded to nearest. */
  static float decodedSquaredNorm(byte[] bytes, int offset, int block) {
    return floatAt(bytes, offset + block * BLOCK_HEADER + 2 * Float.BYTES);
  }

  /** The dot product of a block one dimension at a time. */
  static float dotScalar(float[] query, int start, int length, byte[] bytes, int codes) {
    float dot = 0f;
    for (int i = 0; i < length; i++) {
      dot += query[start + i] * bytes[codes + i];
    }
    return dot;
  }

  static float floatAt(byte[] bytes, int offset) {
    return (float) FLOAT_LE.get(bytes, offset);
  }
}
