package io.lookalike.solr;

import java.io.IOException;
import org.apache.lucene.util.BytesRef;

/**
 * An upper bound of a document's linear value {@code w.x + b} from its {@link VectorSketch
 * sketches} and tail norm (see {@link VectorFieldLayout}), without reading its vector: a top-k
 * linear search skips the documents whose bound is below the collector's minimum (see {@link
 * LinearRanking}). The counterpart of the sketch's lower bound of a distance.
 *
 * <p>In a sketch block, with {@code y = step * codes} the decoded components and {@code e = x - y}
 * their quantization error ({@code ||e|| <= errorNorm}, rounded up when indexed), Cauchy-Schwarz
 * gives {@code w_b . x_b = step (w_b . codes) + w_b . e <= step (w_b . codes) + ||w_b|| errorNorm};
 * beyond the sketch, {@code w_t . x_t <= ||w_t|| tailNorm}. The bound is the sum of those terms,
 * then {@code b}, then a slack for roundings: the bound must hold against the value as the plugin
 * computes it in float (see {@link SquaredDistance#dotProduct}), and is computed with roundings
 * itself. Let {@code M = sum_b ||w_b|| (||y_b|| + errorNorm_b) + ||w_t|| tailNorm}, which bounds
 * both {@code sum |w_i x_i|} and {@code sum |w_i y_i|} (Cauchy-Schwarz again):
 *
 * <ul>
 *   <li>the value's dot product: a lane adds at most n / 8 rounded products, then the eight lanes
 *       are added, so its error is below {@code (n / 8 + 8) 2^-24 sum |w_i x_i|}, at most {@code
 *       2^-12.9 M} for n up to 16384;
 *   <li>the block's dot product with the codes, in float (128 terms, in any order, with or without
 *       FMA): below {@code 128 * 2^-24 sum |w_i codes_i|}, that is {@code 2^-17 M} once multiplied
 *       by the step; everything else is summed in double (errors near {@code 2^-50 (M + |b|)}),
 *       and {@code ||y_b||}, from the float {@code ||y_b||^2}, may be {@code 2^-24} short, which
 *       changes the slack by nothing that matters;
 *   <li>adding {@code b} to the dot product rounds by at most {@code 2^-24 (|b| + M)}, and a value
 *       rounded up may reach a minimum that the sum before rounding misses;
 *   <li>products that underflow lose up to {@code 2^-150} each, absolutely: below {@code 2^-136}
 *       for the value's n products, {@code 2^-143 step} for a block's 128.
 * </ul>
 *
 * So {@code 2^-10 M + 2^-22 |b| + 2^-126 (1 + sum_b step_b)} covers every one with a factor of 4
 * or more to spare: a document is only ruled out if its computed value is below the minimum.
 */
final class LinearBound {

  /** The slack's share of {@code M}: above {@code 2^-12.9 + 2^-17 + 2^-24}, see above. */
  static final double RELATIVE_SLACK = 0x1p-10;

  /** The slack's share of {@code |b|}, above the {@code 2^-24} of adding it. */
  static final double BIAS_SLACK = 0x1p-22;

  /** The smallest normal float, above any sum of lost subnormal products. */
  static final double ABSOLUTE_SLACK = Float.MIN_NORMAL;

  private final VectorSketch.Kernel kernel;
  private final float[] weights;
  private final float bias;
  private final StageNorms[] stageNorms = new StageNorms[VectorFieldLayout.sketchStageCount()];
  private int tailFrom = -1;
  private double tailWeightNorm;

  // The current document: the components its sketches cover, the terms of its bound and of M, the
  // sum of its blocks' steps.
  private int covered;
  private double bound;
  private double magnitude;
  private double steps;

  /**
   * @param kernel the block dot products, normally {@link VectorSketch#KERNEL}
   */
  LinearBound(VectorSketch.Kernel kernel, float[] weights, float bias) {
    this.kernel = kernel;
    this.weights = weights;
    this.bias = bias;
    for (int stage = 0; stage < stageNorms.length; stage++) {
      stageNorms[stage] = new StageNorms();
    }
  }

  /**
   * Whether the value of {@code doc} (not before the last document asked about) is known to be
   * below {@code minValue} from its sketches and tail norm; false when it lacks either, or when its
   * sketches reach beyond the weights (the schema's dimension changed: the vector's read reports
   * it).
   */
  boolean rulesOut(ImageVectorValues values, int doc, float minValue) throws IOException {
    start();
    for (int stage = 0; stage < values.sketchStageCount(); stage++) {
      BytesRef sketch = values.sketch(stage, doc);
      if (sketch == null) {
        break;
      }
      if (add(stage, sketch.bytes, sketch.offset, sketch.length) == false) {
        return false;
      }
    }
    float tailNorm = values.tailNorm(doc, covered);
    return Float.isNaN(tailNorm) == false && rulesOut(tailNorm, minValue);
  }

  /** Starts the bound of a document. */
  void start() {
    covered = 0;
    bound = 0;
    magnitude = 0;
    steps = 0;
  }

  /**
   * Adds the terms of the document's sketch stage {@code stage}, the {@code length} bytes at {@code
   * offset}, which cover the components after those already added; false, adding nothing, when
   * they would reach beyond the weights.
   */
  boolean add(int stage, byte[] bytes, int offset, int length) {
    int dimensions = VectorSketch.dimensions(length);
    if (covered + dimensions > weights.length) {
      return false;
    }
    double[] blockNorms = stageNorms[stage].of(weights, covered, covered + dimensions);
    int codes = VectorSketch.codes(offset, dimensions);
    for (int start = 0; start < dimensions; start += VectorSketch.BLOCK) {
      int block = start / VectorSketch.BLOCK;
      int blockLength = Math.min(VectorSketch.BLOCK, dimensions - start);
      float step = VectorSketch.step(bytes, offset, block);
      float errorNorm = VectorSketch.errorNorm(bytes, offset, block);
      float dot = kernel.dotCodes(weights, covered + start, blockLength, bytes, codes + start);
      double weightNorm = blockNorms[block];
      bound += (double) step * dot + weightNorm * errorNorm;
      double decodedNorm = Math.sqrt(VectorSketch.decodedSquaredNorm(bytes, offset, block));
      magnitude += weightNorm * (decodedNorm + errorNorm);
      steps += step;
    }
    covered += dimensions;
    return true;
  }

  /**
   * Whether the document, whose components from the first one not covered by its sketches on have
   * a norm of at most {@code tailNorm}, has a computed value below {@code minValue}.
   */
  boolean rulesOut(float tailNorm, float minValue) {
    return upperBound(tailNorm) < minValue;
  }

  /** The bound of the document's computed value, slack and {@code b} included. */
  double upperBound(float tailNorm) {
    if (tailFrom != covered) {
      tailWeightNorm = norm(weights, covered, weights.length);
      tailFrom = covered;
    }
    double tail = tailWeightNorm * tailNorm;
    double slack =
        RELATIVE_SLACK * (magnitude + tail)
            + BIAS_SLACK * Math.abs(bias)
            + ABSOLUTE_SLACK * (1 + steps);
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

  /** The norms of the weights' blocks in one sketch stage, for the components it was last for. */
  private static final class StageNorms {
    private int from = -1;
    private int to;
    private double[] norms;

    double[] of(float[] weights, int from, int to) {
      if (from != this.from || to != this.to) {
        norms = new double[VectorSketch.blocks(to - from)];
        for (int block = 0; block < norms.length; block++) {
          int start = from + block * VectorSketch.BLOCK;
          norms[block] = norm(weights, start, Math.min(start + VectorSketch.BLOCK, to));
        }
        this.from = from;
        this.to = to;
      }
      return norms;
    }
  }
}
