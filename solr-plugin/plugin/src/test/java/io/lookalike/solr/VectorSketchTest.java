package io.lookalike.solr;

import java.util.List;
import java.util.Random;
import org.apache.lucene.tests.util.LuceneTestCase;
import org.junit.Test;

/**
 * The sketch's lower bound never exceeds the distance the kernel computes (so pruning with it is
 * exact), with and without SIMD, and is tight enough to prune.
 */
public class VectorSketchTest extends LuceneTestCase {

  @Test
  public void testLengthAndDimensionsAreInverse() {
    for (int dimensions = 1; dimensions <= ImageVectorField.MAX_DIMENSION; dimensions++) {
      assertEquals(dimensions, VectorSketch.dimensions(VectorSketch.length(dimensions)));
    }
    assertEquals(256 + 2 * 12, VectorSketch.length(256));
  }

  @Test
  public void testStagesSplitTheSketchedComponentsAtABlock() {
    assertArrayEquals(new int[] {0}, VectorFieldLayout.sketchStages(0));
    assertArrayEquals(new int[] {0, 40}, VectorFieldLayout.sketchStages(40));
    assertArrayEquals(new int[] {0, 100}, VectorFieldLayout.sketchStages(100));
    assertArrayEquals(new int[] {0, 128, 129}, VectorFieldLayout.sketchStages(129));
    assertArrayEquals(new int[] {0, 128, 256}, VectorFieldLayout.sketchStages(256));
    assertArrayEquals(new int[] {0, 256, 500}, VectorFieldLayout.sketchStages(500));
  }

  @Test
  public void testLowerBoundNeverExceedsTheDistance() {
    Random random = random();
    for (int iteration = 0; iteration < 2000; iteration++) {
      int dimension = 1 + random.nextInt(random.nextBoolean() ? 70 : 1100);
      float[] stored = vector(random, dimension);
      float[] query = query(random, stored);
      int from = random.nextInt(dimension);
      int dimensions = 1 + random.nextInt(dimension - from);
      byte[] sketch = withOffset(VectorSketch.encode(stored, from, from + dimensions), 7);
      float distance = SquaredDistance.squaredDistance(query, VectorFormat.toBytes(stored), 0);
      float bound =
          switch (random.nextInt(4)) {
            case 0 -> Float.POSITIVE_INFINITY;
            case 1 -> distance * random.nextFloat();
            case 2 -> distance;
            default -> distance * (1 + random.nextFloat());
          };
      for (VectorSketch.Kernel kernel : kernels()) {
        float[] norms = VectorSketch.blockNorms(query, from, from + dimensions);
        float sum =
            VectorSketch.accumulate(kernel, query, norms, from, dimensions, sketch, 7, 0f, bound);
        if (VectorSketch.rulesOut(sum, bound)) {
          assertTrue(
              kernel + ": ruled out at distance " + distance + " <= " + bound, distance > bound);
        } else {
          assertTrue(
              kernel + ": bound " + sum + " > distance " + distance,
              sum * VectorSketch.SAFETY <= distance);
        }
      }
    }
  }

  /** With every dimension sketched, the bound of a distant vector is close to its distance. */
  @Test
  public void testLowerBoundIsTight() {
    Random random = random();
    for (int iteration = 0; iteration < 100; iteration++) {
      int dimension = 64 + random.nextInt(1000);
      float[] stored = TestVectors.random(random, dimension);
      float[] query = TestVectors.random(random, dimension);
      byte[] sketch = VectorSketch.encode(stored, 0, dimension);
      float distance = SquaredDistance.squaredDistance(query, VectorFormat.toBytes(stored), 0);
      float[] norms = VectorSketch.blockNorms(query, 0, dimension);
      for (VectorSketch.Kernel kernel : kernels()) {
        float lowerBound =
            VectorSketch.accumulate(
                kernel, query, norms, 0, dimension, sketch, 0, 0f, Float.POSITIVE_INFINITY);
        assertTrue(lowerBound + " vs " + distance, lowerBound >= 0.95f * distance);
      }
    }
  }

  @Test
  public void testSketchOfTheQueryItselfBoundsNothingOut() {
    Random random = random();
    for (int iteration = 0; iteration < 200; iteration++) {
      int dimension = 1 + random.nextInt(600);
      float[] vector = vector(random, dimension);
      byte[] sketch = VectorSketch.encode(vector, 0, dimension);
      float[] norms = VectorSketch.blockNorms(vector, 0, dimension);
      for (VectorSketch.Kernel kernel : kernels()) {
        float sum = VectorSketch.accumulate(kernel, vector, norms, 0, dimension, sketch, 0, 0f, 0f);
        assertEquals(0f, sum, 0f);
      }
    }
  }

  /** The scalar kernel, and the SIMD kernel where this JVM has one (as under Surefire here). */
  private static List<VectorSketch.Kernel> kernels() {
    VectorSketch.Kernel scalar = VectorSketch::dotScalar;
    return SquaredDistance.SIMD == null ? List.of(scalar) : List.of(scalar, SquaredDistance.SIMD);
  }

  /** Components of mixed scales, zero blocks and extremes: what quantization finds hardest. */
  private static float[] vector(Random random, int dimension) {
    float[] vector = TestVectors.random(random, dimension);
    float scale = (float) Math.pow(10, random.nextInt(61) - 30);
    for (int i = 0; i < dimension; i++) {
      switch (random.nextInt(8)) {
        case 0 -> vector[i] = 0f;
        case 1 -> vector[i] *= 1e-6f;
        default -> vector[i] *= scale;
      }
    }
    return vector;
  }

  /** The vector itself, a near duplicate of it, or an unrelated vector. */
  private static float[] query(Random random, float[] stored) {
    float[] query = stored.clone();
    switch (random.nextInt(3)) {
      case 0 -> {}
      case 1 -> {
        for (int i = 0; i < query.length; i++) {
          query[i] += (random.nextFloat() - 0.5f) * Math.abs(query[i]) * 1e-2f;
        }
      }
      default -> query = vector(random, stored.length);
    }
    return query;
  }

  private static byte[] withOffset(byte[] raw, int offset) {
    byte[] bytes = new byte[offset + raw.length];
    System.arraycopy(raw, 0, bytes, offset, raw.length);
    return bytes;
  }
}
