package io.lookalike.solr;

import java.util.List;
import java.util.Random;
import org.apache.lucene.index.IndexableField;
import org.apache.lucene.tests.util.LuceneTestCase;
import org.apache.lucene.util.BytesRef;
import org.junit.Test;

/**
 * The linear mode's upper bound from the sketches and the tail never falls below the value the
 * kernel computes (so pruning with it is exact), with and without SIMD, on adversarial vectors,
 * weights and biases; and it is tight enough to prune.
 */
public class LinearBoundTest extends LuceneTestCase {

  private static final String FIELD = "vec";

  @Test
  public void testUpperBoundNeverFallsBelowTheComputedValue() {
    Random random = random();
    for (int iteration = 0; iteration < 3000; iteration++) {
      int dimension = 1 + random.nextInt(random.nextBoolean() ? 70 : 1100);
      int sketchDimensions = 1 + random.nextInt(dimension);
      float[] vector = TestVectors.adversarial(random, dimension);
      List<IndexableField> fields = VectorFieldLayout.fields(FIELD, vector, sketchDimensions, null);
      float[] weights =
          switch (random.nextInt(4)) {
            case 0 -> vector.clone();
            case 1 -> tightest(vector, sketchDimensions, fields);
            default -> TestVectors.adversarial(random, dimension);
          };
      float dot = SquaredDistance.dotProduct(weights, VectorFormat.toBytes(vector), 0);
      float bias = bias(random, dot);
      float value = dot + bias;
      assertEquals(TestVectors.linearValue(weights, bias, vector), value, 0f);
      for (VectorSketch.Kernel kernel : kernels()) {
        LinearBound bound = new LinearBound(kernel, weights, bias);
        double upper = upperBound(bound, fields);
        String where =
            (kernel == SquaredDistance.SIMD ? "SIMD" : "scalar")
                + " dim="
                + dimension
                + " sketch="
                + sketchDimensions;
        assertTrue(where + ": bound " + upper + " < value " + value, upper >= value);
        // the hardest minimum: the document's own value, which it reaches
        assertFalse(where, rulesOut(bound, fields, value));
        assertFalse(where, rulesOut(bound, fields, Math.nextDown(value)));
      }
    }
  }

  /** With every component sketched, the bound is within a percent of the norms' product. */
  @Test
  public void testUpperBoundIsTight() {
    Random random = random();
    for (int iteration = 0; iteration < 200; iteration++) {
      int dimension = 64 + random.nextInt(1000);
      float[] vector = TestVectors.random(random, dimension);
      float[] weights = TestVectors.random(random, dimension);
      float value = TestVectors.linearValue(weights, 0f, vector);
      List<IndexableField> fields = VectorFieldLayout.fields(FIELD, vector, dimension, null);
      double norms =
          LinearBound.norm(weights, 0, dimension) * LinearBound.norm(vector, 0, dimension);
      for (VectorSketch.Kernel kernel : kernels()) {
        LinearBound bound = new LinearBound(kernel, weights, 0f);
        double upper = upperBound(bound, fields);
        assertTrue(upper + " vs " + value, upper - value <= 0.01 * norms);
        assertTrue(rulesOut(bound, fields, (float) (value + 0.01 * norms)));
      }
    }
  }

  /** A sketch that reaches beyond the weights (the schema's dimension changed) bounds nothing. */
  @Test
  public void testSketchesBeyondTheWeightsAreNotUsed() {
    float[] vector = TestVectors.random(random(), 300);
    List<IndexableField> fields = VectorFieldLayout.fields(FIELD, vector, 300, null);
    LinearBound bound = new LinearBound(VectorSketch::dotScalar, new float[260], 0f);
    BytesRef first = fields.get(1).binaryValue();
    bound.start();
    assertTrue(bound.add(0, first.bytes, first.offset, first.length)); // 256 components
    BytesRef second = fields.get(2).binaryValue();
    assertFalse(bound.add(1, second.bytes, second.offset, second.length));
  }

  /**
   * The weights for which every Cauchy-Schwarz step is an equality, so that only the slack stands
   * between the bound and the value: the vector's quantization error over the sketched components,
   * its deviations from its mean beyond them.
   */
  private static float[] tightest(
      float[] vector, int sketchDimensions, List<IndexableField> fields) {
    float[] weights = vector.clone();
    BytesRef tail = tail(fields);
    float mean = VectorFieldLayout.tailMean(tail.bytes, tail.offset);
    for (int i = sketchDimensions; i < vector.length; i++) {
      weights[i] = vector[i] - mean;
    }
    int[] stages = VectorFieldLayout.sketchStages(sketchDimensions);
    for (int stage = 0; stage + 1 < stages.length; stage++) {
      BytesRef sketch = fields.get(1 + stage).binaryValue();
      int dimensions = stages[stage + 1] - stages[stage];
      int codes = VectorSketch.codes(sketch.offset, dimensions);
      for (int i = 0; i < dimensions; i++) {
        int block = i / VectorSketch.BLOCK;
        float step = VectorSketch.step(sketch.bytes, sketch.offset, block);
        float mid = VectorSketch.mid(sketch.bytes, sketch.offset, block);
        double decoded = mid + (double) step * sketch.bytes[codes + i];
        weights[stages[stage] + i] = (float) (vector[stages[stage] + i] - decoded);
      }
    }
    return weights;
  }

  /** The bound of the document whose layout fields are {@code fields}, as a search adds it up. */
  private static double upperBound(LinearBound bound, List<IndexableField> fields) {
    bound.start();
    for (int stage = 0; stage < VectorFieldLayout.sketchStageCount(); stage++) {
      for (IndexableField field : fields) {
        if (field.name().equals(VectorFieldLayout.sketchField(FIELD, stage))) {
          BytesRef sketch = field.binaryValue();
          assertTrue(bound.add(stage, sketch.bytes, sketch.offset, sketch.length));
        }
      }
    }
    BytesRef tail = tail(fields);
    return bound.upperBound(
        VectorFieldLayout.tailMean(tail.bytes, tail.offset),
        VectorFieldLayout.tailNorm(tail.bytes, tail.offset));
  }

  /** Whether the bound of the document, whose sketches were added, rules out {@code minValue}. */
  private static boolean rulesOut(LinearBound bound, List<IndexableField> fields, float minValue) {
    BytesRef tail = tail(fields);
    return bound.rulesOut(
        VectorFieldLayout.tailMean(tail.bytes, tail.offset),
        VectorFieldLayout.tailNorm(tail.bytes, tail.offset),
        minValue);
  }

  private static BytesRef tail(List<IndexableField> fields) {
    for (IndexableField field : fields) {
      if (field.name().equals(VectorFieldLayout.tailField(FIELD))) {
        return field.binaryValue();
      }
    }
    throw new AssertionError("no tail in " + fields);
  }

  /** The scalar kernel, and the SIMD kernel where this JVM has one (as under Surefire here). */
  private static List<VectorSketch.Kernel> kernels() {
    VectorSketch.Kernel scalar = VectorSketch::dotScalar;
    return SquaredDistance.SIMD == null ? List.of(scalar) : List.of(scalar, SquaredDistance.SIMD);
  }

  /**
   * Zero, small, far from the dot product, up to the largest bias allowed, or about 2^23 times the
   * dot product, whose ulp is then about the dot product: adding the two rounds the most.
   */
  private static float bias(Random random, float dot) {
    float sign = random.nextBoolean() ? 1f : -1f;
    return switch (random.nextInt(5)) {
      case 0 -> 0f;
      case 1 -> random.nextFloat() - 0.5f;
      case 2 -> sign * random.nextFloat() * (float) Math.pow(10, random.nextInt(30));
      case 3 -> sign * LinearVisualQuery.MAX_BIAS;
      default -> {
        float near = sign * Math.scalb(dot, 21 + random.nextInt(5));
        yield Math.max(-LinearVisualQuery.MAX_BIAS, Math.min(LinearVisualQuery.MAX_BIAS, near));
      }
    };
  }
}
