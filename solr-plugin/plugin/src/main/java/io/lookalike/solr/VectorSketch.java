package io.lookalike.solr;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;

/**
 * A compact approximation of a vector's leading dimensions that gives an exact lower bound of its
 * distance to any query: the vector-approximation file of Weber, Schek and Blott (VLDB 1998), kept
 * beside the vector so that a search reads about 300 bytes per document instead of 4 KB.
 *
 * <p>The dimensions are cut into blocks of {@link #BLOCK}, each quantized around its own centre:
 * {@code mid = (max + min) / 2}, {@code step = (max - min) / 254} over the block, one signed byte
 * per dimension, {@code code = round((x - mid) / step)}, so the block decodes to {@code y = mid +
 * step * code}. Centring is what lets vectors far from 0 prune (an offset, raw non-negative
 * features): the codes spend their 255 levels on the block's range, not on {@code [-max|x|,
 * max|x|]}, and the bound below never computes the large norms that cancel. It is per document, as
 * doc values are written one document at a time: a segment-wide centre has no place to be computed
 * before its documents are written, and a schema-wide one would need training and re-indexing
 * whenever it changes.
 *
 * <p>Each block's header holds {@code mid}, {@code step}, the norm {@code ||x - y||} of its
 * quantization error (rounded up), and the codes' sum {@code Sc} and sum of squares {@code Cc}. By
 * the triangle inequality {@code ||q - x|| >= ||q - y|| - ||x - y||}. With the query's block
 * centred on its own mean {@code m} ({@link QueryBlocks}: {@code u = q - m}, in float), {@code d =
 * mid - m} and {@code L} the block's length, {@code ||q - y||^2 = ||u||^2 - 2 step (u . code) +
 * step^2 Cc + d (L d - 2 sum(u) + 2 step Sc)}: one multiply-add per dimension (the dot product of
 * the centred query with the codes, the cheapest loop there is over bytes) and a few operations per
 * block, all of them on spreads and offsets that are about the size of the distance itself.
 * (Exactly, the sum is {@code ||q' - y||^2} for the point {@code q' = m + u} that the rounded
 * {@code u} describes: {@code ||q - q'||} joins {@code ||x - y||} as the block's radius.)
 *
 * <p>PCA puts the high-variance dimensions first, so the leading components of a 1024-d vector
 * hold most of its spread and rule out nearly all of the documents that cannot enter a top-k. Layout
 * (little-endian): {@code [mid, step, errorNorm (float32), Sc, Cc (int32)] per block, then one code
 * per dimension}.
 */
final class VectorSketch {

  /**
   * Components per block. One bound per 128 components is nearly as tight as one per 64 (the
   * quantization error is small next to the distances that decide) and lets most documents be
   * decided by a single test, whose outcome the processor then predicts well.
   */
  static final int BLOCK = 128;

  /** The bytes of one block's centre, step, error norm, code sum and code sum of squares. */
  static final int BLOCK_HEADER = 5 * Float.BYTES;

  /**
   * The bound is multiplied by this before it is compared, so that the float roundings of the
   * bound's sum and of the distance's sum (each below 2^-12 relative, even summing 16384 terms in
   * one accumulator) never let the computed bound exceed the computed distance.
   */
  static final float SAFETY = 1f - 0x1p-10f;

  /**
   * Relative slack on {@code ||q - y||^2}, as a share of {@code S = ||u||^2 + step^2 Cc + L d^2}.
   * The magnitudes of the sum's six terms add up to at most {@code 3 S} (Cauchy-Schwarz: {@code
   * |u.code| <= ||u|| sqrt(Cc)}, {@code |sum(u)| <= sqrt(L) ||u||}, {@code |Sc| <= sqrt(L Cc)},
   * then {@code 2ab <= a^2 + b^2}), and so does {@code ||q - y||^2}. The float dot product of 128
   * terms, in any order, with or without FMA, errs by at most {@code 129 * 2^-24} of {@code sum
   * |u_i code_i|}, which is {@code 2^-17 S} once doubled and multiplied by the step; the rest is in
   * double (below {@code 2^-47 S}). Products of a float and a small integer never lose bits to
   * underflow, so no absolute term is needed here. 2^-14 is eight times the error, and the margin
   * left, at least {@code 2^-15 S >= 2^-17 ||q - y||^2}, is far above the double roundings of the
   * square root and the subtractions that follow.
   */
  private static final double CANCELLATION = 0x1p-14;

  /**
   * Subtracted from each block's gap {@code ||q - y|| - ||x - y|| - ...}: then a block that adds
   * anything adds at most {@code ||q - x||^2 - 2^-126} (as {@code (D - 2^-63)^2 <= D^2 - 2^-126}
   * for {@code D >= 2^-63}), more than the {@code 16384 * 2^-150} that the distance's squares may
   * lose to underflow (components below 1e-19).
   */
  static final double UNDERFLOW_GAP = 0x1p-63;

  private static final VarHandle FLOAT_LE =
      MethodHandles.byteArrayViewVarHandle(float[].class, ByteOrder.LITTLE_ENDIAN);

  private static final VarHandle INT_LE =
      MethodHandles.byteArrayViewVarHandle(int[].class, ByteOrder.LITTLE_ENDIAN);

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
    byte[] sketch = new byte[length(dimensions)];
    int codes = blocks(dimensions) * BLOCK_HEADER;
    for (int start = 0; start < dimensions; start += BLOCK) {
      int end = Math.min(start + BLOCK, dimensions);
      float min = Float.POSITIVE_INFINITY;
      float max = Float.NEGATIVE_INFINITY;
      for (int i = start; i < end; i++) {
        min = Math.min(min, vector[from + i]);
        max = Math.max(max, vector[from + i]);
      }
      // Whatever mid and step round to, y is what they and the codes decode to, and the error
      // norm is measured against that y.
      float mid = (float) (((double) max + min) / 2);
      float step = (float) (((double) max - min) / 254);
      int codeSum = 0;
      int codeSquares = 0;
      double errorSq = 0;
      double spreadSq = 0;
      for (int i = start; i < end; i++) {
        double centred = (double) vector[from + i] - mid;
        int code = step == 0f ? 0 : (int) Math.max(-127, Math.min(127, Math.round(centred / step)));
        sketch[codes + i] = (byte) code;
        codeSum += code;
        codeSquares += code * code;
        double error = centred - (double) step * code; // step * code is exact: 24 by 8 bits
        errorSq += error * error;
        spreadSq += centred * centred;
      }
      // Each of the two subtractions above rounds by 2^-53 of |x - mid| at most, and the sums
      // and the root by far less than 2^-40: both covered, then the float at or above.
      double errorNorm = Math.sqrt(errorSq) * (1 + 0x1p-40) + 0x1p-50 * Math.sqrt(spreadSq);
      int header = start / BLOCK * BLOCK_HEADER;
      FLOAT_LE.set(sketch, header, mid);
      FLOAT_LE.set(sketch, header + Float.BYTES, step);
      FLOAT_LE.set(sketch, header + 2 * Float.BYTES, Math.nextUp((float) errorNorm));
      INT_LE.set(sketch, header + 3 * Float.BYTES, codeSum);
      INT_LE.set(sketch, header + 4 * Float.BYTES, codeSquares);
    }
    return sketch;
  }

  /** Whether a document whose bound's terms sum to {@code sum} cannot be within {@code bound}. */
  static boolean rulesOut(float sum, float bound) {
    return lowerBound(sum) > bound;
  }

  /** The lower bound of the computed squared distance that terms summing to {@code sum} give. */
  static float lowerBound(float sum) {
    return sum * SAFETY;
  }

  /**
   * Adds to {@code sum}, with {@code kernel} (normally {@link #KERNEL}), the lower-bound terms of
   * the sketch at {@code offset} of the query's components that {@code query} was made for (its
   * {@link QueryBlocks#dimensions()}), block by block, stopping as soon as the sum {@link
   * #rulesOut} the document (then returning that sum, or infinity). Summed over disjoint
   * components, the terms bound the squared distance from below: a document is only ruled out if
   * its distance exceeds {@code bound}.
   */
  static float accumulate(
      Kernel kernel, QueryBlocks query, byte[] bytes, int offset, float sum, float bound) {
    int dimensions = query.dimensions();
    int codes = codes(offset, dimensions);
    // What the blocks may add before the document is ruled out, and its root while nothing was
    // added: computed once per document, not per block (a division and a square root).
    double limit = (double) bound / SAFETY;
    double rootLimit = Math.sqrt(limit - sum);
    for (int start = 0; start < dimensions; start += BLOCK) {
      int block = start / BLOCK;
      int length = Math.min(BLOCK, dimensions - start);
      double step = step(bytes, offset, block);
      double centres = (double) mid(bytes, offset, block) - query.centre(block);
      double stepSq = step * step * codeSquares(bytes, offset, block);
      double querySq = query.squares(block);
      double shift =
          length * centres - 2 * query.sum(block) + 2 * step * codeSum(bytes, offset, block);
      float dot = kernel.dotCodes(query.centred(), start, length, bytes, codes + start);
      double distanceSq = querySq - 2 * step * dot + stepSq + centres * shift;
      distanceSq -= CANCELLATION * (querySq + stepSq + length * centres * centres);
      double radius = errorNorm(bytes, offset, block) + query.radius(block);
      // The block alone rules the document out when sqrt(distanceSq) - radius exceeds the root of
      // what is left of the bound: tested squared (the margin covers the double roundings), so
      // that most documents are ruled out without waiting on a square root.
      double reach = rootLimit + radius;
      if (distanceSq > reach * reach * (1 + 0x1p-40)) {
        return Float.POSITIVE_INFINITY;
      }
      double gap = (distanceSq > 0 ? Math.sqrt(distanceSq) : 0) - radius;
      if (gap > 0) {
        sum += (float) (gap * gap);
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

  /** Block {@code block}'s centre {@code mid}, of the sketch at {@code offset}. */
  static float mid(byte[] bytes, int offset, int block) {
    return floatAt(bytes, offset + block * BLOCK_HEADER);
  }

  /** Block {@code block}'s step, of the sketch at {@code offset}. */
  static float step(byte[] bytes, int offset, int block) {
    return floatAt(bytes, offset + block * BLOCK_HEADER + Float.BYTES);
  }

  /** Block {@code block}'s quantization error norm {@code ||x - y||}, rounded up. */
  static float errorNorm(byte[] bytes, int offset, int block) {
    return floatAt(bytes, offset + block * BLOCK_HEADER + 2 * Float.BYTES);
  }

  /** The sum of block {@code block}'s codes. */
  static int codeSum(byte[] bytes, int offset, int block) {
    return intAt(bytes, offset + block * BLOCK_HEADER + 3 * Float.BYTES);
  }

  /** The sum of the squares of block {@code block}'s codes. */
  static int codeSquares(byte[] bytes, int offset, int block) {
    return intAt(bytes, offset + block * BLOCK_HEADER + 4 * Float.BYTES);
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

  private static int intAt(byte[] bytes, int offset) {
    return (int) INT_LE.get(bytes, offset);
  }
}
