package io.lookalike.solr;

import java.io.IOException;
import org.apache.lucene.util.BytesRef;

/**
 * An upper bound of a document's linear value {@code w.x + b} from its {@link VectorSketch
 * sketches} and tail (see {@link VectorFieldLayout}), without reading its vector: a top-k linear
 * search skips the documents whose bound is below the collector's minimum (see {@link
 * LinearRanking}). The counterpart of the sketch's lower bound of a distance.
 *
 * <p>In a sketch block of {@code L} components, with {@code y = mid + step * codes} the decoded
 * components and {@code e = x - y} their quantization error ({@code ||e|| <= errorNorm}, rounded up
 * when indexed), Cauchy-Schwarz gives {@code w_b . x_b = mid sum(w_b) + step (w_b . codes) + w_b .
 * e <= mid sum(w_b) + step (w_b . codes) + ||w_b|| errorNorm}; beyond the sketch, with {@code mu}
 * the tail's mean, {@code w_t . x_t = mu sum(w_t) + w_t . (x_t - mu) <= mu sum(w_t) + ||w_t||
 * tailNorm}. The bound is the sum of those terms, then {@code b}, then a slack for roundings: the
 * bound must hold against the value as the plugin computes it in float (see {@link
 * SquaredDistance#dotProduct}), and is computed with roundings itself. Let {@code M = sum_b ||w_b||
 * (sqrt(L) |mid| + step sqrt(Cc) + errorNorm) + ||w_t|| (sqrt(n_t) |mu| + tailNorm)}, with {@code
 * Cc} the codes' sum of squares and {@code n_t} the tail's length: as {@code ||y_b|| <= sqrt(L)
 * |mid| + step sqrt(Cc)}, it bounds {@code sum |w_i x_i|}, {@code sum |w_i y_i|} and each of the
 * bound's terms (Cauchy-Schwarz again):
 *
 * <ul>
 *   <li>the value's dot product: a lane adds at most n / 8 rounded products, then the eight lanes
 *       are added, so its error is below {@code (n / 8 + 9) 2^-24 sum |w_i x_i|}: {@code 2^-16.7 M}
 *       for n = 1024, {@code 2^-12.9 M} for n = 16384;
 *   <li>the block's dot product with the codes, in float (128 terms, in any order, with or without
 *       FMA): below {@code 129 * 2^-24 sum |w_i codes_i|}, that is {@code 2^-17 M} once multiplied
 *       by the step; everything else is summed in double, {@code sum(w_b)} included (errors near
 *       {@code 2^-46 (M + |b|)});
 *   <li>adding {@code b} to the dot product rounds by at most {@code 2^-24 (|b| + M)}, and a value
 *       rounded up may reach a minimum that the sum before rounding misses;
 *   <li>products that underflow lose up to {@code 2^-150} each, absolutely: below {@code 2^-136}
 *       for the value's n products. The codes' products lose nothing: a float times a small integer
 *       is exact where it is subnormal.
 * </ul>
 *
 * In all {@code (n / 8 + 139) 2^-24 M}, so {@code (n / 2 + 556) 2^-24 M + 2^-22 |b| + 2^-126}
 * covers every one with a factor of 4 to spare: a document is only ruled out if its computed value
 * is below the minimum. (The share of {@code M} depends on n: far from 0, where {@code M} is far
 * above the spread of the values, {@code 2^-14 M} for 1024-d weights prunes where the {@code 2^-10
 * M} that 16384-d ones need would not.)
 */
final class LinearBound {

  /** The slack's share of {@code M} for weights of {@code n} components: see above. */
  static double relativeSlack(int n) {
    return (n / 2.0 + 556) * 0x1p-24;
  }

  /** The slack's share of {@code |b|}, above the {@code 2^-24} of adding it. */
  static final double BIAS_SLACK = 0x1p-22;

  /** The smallest normal float, above the value's lost subnormal products. */
  static final double ABSOLUTE_SLACK = Float.MIN_NORMAL;

  private final VectorSketch.Kernel kernel;
  private final float[] weights;
  private final float bias;
  private final double relativeSlack;
  private final StageNorms[] stageNorms = new StageNorms[VectorFieldLayout.sketchStageCount()];
  private int tailFrom = -1;
  private double tailWeightNorm;
  private double tailWeightSum;

  // The current document: the components its sketches cover, the terms of its bound and of M.
  private int covered;
  private double bound;
  private double magnitude;

  /**
   * @param kernel the block dot products, normally {@link VectorSketch#KERNEL}
   */
  LinearBound(VectorSketch.Kernel kernel, float[] weights, float bias) {
    this.kernel = kernel;
    this.weights = weights;
    this.bias = bias;
    this.relativeSlack = relativeSlack(weights.length);
    for (int stage = 0; stage < stageNorms.length; stage++) {
      stageNorms[stage] = new StageNorms();
    }
  }

  /**
   * Whether the value of {@code doc} (not before the last document asked about) is known to be
   * below {@code minValue} from its sketches and tail; false when it lacks either, or when its
   * sketches reach beyond the weights (the schema's dimension changed: the vector's read reports
   * it).
   */
  boolean rulesOut(ImageVectorValues values, int doc, float minValue) throws IOException {
    return upperBound(values, doc) < minValue; // false for NaN
  }

  /**
   * The bound of the computed value of {@code doc} (not before the last document asked about),
   * slack and {@code b} included, from its sketches and tail; NaN where it lacks either, or where
   * its sketches reach beyond the weights.
   */
  double upperBound(ImageVectorValues values, int doc) throws IOException {
    start();
    for (int stage = 0; stage < values.sketchStageCount(); stage++) {
      BytesRef sketch = values.sketch(stage, doc);
      if (sketch == null) {
        break;
      }
      if (add(stage, sketch.bytes, sketch.offset, sketch.length) == false) {
        return Double.NaN;
      }
    }
    BytesRef tail = values.tail(doc, covered);
    return tail == null
        ? Double.NaN
        : upperBound(
            VectorFieldLayout.tailMean(tail.bytes, tail.offset),
            VectorFieldLayout.tailNorm(tail.bytes, tail.offset));
  }

  /** Starts the bound of a document. */
  void start() {
    covered = 0;
    bound = 0;
    magnitude = 0;
  }

  /**
   * Adds the terms of the document's sketch stage {@code stage}, the {@code length} bytes at {@code
   * offset}, which cover the components after those already added; false, adding nothing, when they
   * would reach beyond the weights.
   */
  boolean add(int stage, byte[] bytes, int offset, int length) {
    int dimensions = VectorSketch.dimensions(length);
    if (covered + dimensions > weights.length) {
      return false;
    }
    StageNorms norms = stageNorms[stage].of(weights, covered, covered + dimensions);
    int codes = VectorSketch.codes(offset, dimensions);
    for (int start = 0; start < dimensions; start += VectorSketch.BLOCK) {
      int block = start / VectorSketch.BLOCK;
      int blockLength = Math.min(VectorSketch.BLOCK, dimensions - start);
      double mid = VectorSketch.mid(bytes, offset, block);
      double step = VectorSketch.step(bytes, offset, block);
      float errorNorm = VectorSketch.errorNorm(bytes, offset, block);
      float dot = kernel.dotCodes(weights, covered + start, blockLength, bytes, codes + start);
      double weightNorm = norms.norms[block];
      bound += mid * norms.sums[block] + step * dot + weightNorm * errorNorm;
      double codeNorm = Math.sqrt(VectorSketch.codeSquares(bytes, offset, block));
      double decodedNorm = Math.sqrt(blockLength) * Math.abs(mid) + step * codeNorm;
      magnitude += weightNorm * (decodedNorm + errorNorm);
    }
    covered += dimensions;
    return true;
  }

  /**
   * Whether the document, whose components from the first one not covered by its sketches on have
   * the mean {@code tailMean} and deviations of norm at most {@code tailNorm}, has a computed value
   * below {@code minValue}.
   */
  boolean rulesOut(float tailMean, float tailNorm, float minValue) {
    return upperBound(tailMean, tailNorm) < minValue;
  }

  /** The bound of the document's computed value, slack and {@code b} included. */
  double upperBound(float tailMean, float tailNorm) {
    if (tailFrom != covered) {
      tailWeightNorm = norm(weights, covered, weights.length);
      tailWeightSum = 0;
      for (int i = covered; i < weights.length; i++) {
        tailWeightSum += weights[i];
      }
      tailFrom = covered;
    }
    double tail = tailMean * tailWeightSum + tailWeightNorm * tailNorm;
    double tailDecoded = Math.sqrt(weights.length - covered) * Math.abs(tailMean);
    double tailMagnitude = tailWeightNorm * (tailDecoded + tailNorm);
    double slack =
        relativeSlack * (magnitude + tailMagnitude) + BIAS_SLACK * Math.abs(bias) + ABSOLUTE_SLACK;
    return bound + tail + slack + bias;
  }

  /** The norm of the components {@code from} to {@code to} of {@code vector}, in double. */
  static double norm(float[] vector, int from, int to) {
    double squares = 0;
    for (int i = from; i < to; i++) {
      squares += (double) vector[i] * vector[i];
    }
    return Math.sqrt(squares);
  }

  /**
   * The norms and sums of the weights' blocks in one sketch stage, for the components it was last
   * for.
   */
  private static final class StageNorms {
    private int from = -1;
    private int to;
    double[] norms;
    double[] sums;

    StageNorms of(float[] weights, int from, int to) {
      if (from != this.from || to != this.to) {
        norms = new double[VectorSketch.blocks(to - from)];
        sums = new double[norms.length];
        for (int block = 0; block < norms.length; block++) {
          int start = from + block * VectorSketch.BLOCK;
          int end = Math.min(start + VectorSketch.BLOCK, to);
          norms[block] = norm(weights, start, end);
          for (int i = start; i < end; i++) {
            sums[block] += weights[i];
          }
        }
        this.from = from;
        this.to = to;
      }
      return this;
    }
  }
}
