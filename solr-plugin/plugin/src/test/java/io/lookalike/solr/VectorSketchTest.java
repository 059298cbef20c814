package io.lookalike.solr;

import java.util.List;
import java.util.Random;
import org.apache.lucene.tests.util.LuceneTestCase;
import org.junit.Test;

/**
 * The sketch's lower bound never exceeds the distance the kernel computes (so pruning with it is
 * exact), with and without SIMD, on adversarial vectors; and it is tight enough to prune, on
 * centred vectors as on vectors far from 0.
 */
public class VectorSketchTest extends LuceneTestCase {

  @Test
  public void testLengthAndDimensionsAreInverse() {
    for (int dimensions = 1; dimensions <= ImageVectorField.MAX_DIMENSION; dimensions++) {
      assertEquals(dimensions, VectorSketch.dimensions(VectorSketch.length(dimensions)));
    }
    assertEquals(256 + 2 * 20, VectorSketch.length(256));
  }

  @Test
  public void testTheFirstStageIsTheFirstBlock() {
    assertArrayEquals(new int[] {0}, VectorFieldLayout.sketchStages(0));
    assertArrayEquals(new int[] {0, 40}, VectorFieldLayout.sketchStages(40));
    assertArrayEquals(new int[] {0, 100}, VectorFieldLayout.sketchStages(100));
    assertArrayEquals(new int[] {0, 128, 129}, VectorFieldLayout.sketchStages(129));
    assertArrayEquals(new int[] {0, 128}, VectorFieldLayout.sketchStages(128));
    assertArrayEquals(new int[] {0, 128, 256}, VectorFieldLayout.sketchStages(256));
    assertArrayEquals(new int[] {0, 128, 500}, VectorFieldLayout.sketchStages(500));
    assertArrayEquals(new int[] {0, 128, 512}, VectorFieldLayout.sketchStages(512));
  }

  @Test
  public void testLowerBoundNeverExceedsTheDistance() {
    Random random = random();
    for (int iteration = 0; iteration < 2000; iteration++) {
      int dimension = 1 + random.nextInt(random.nextBoolean() ? 70 : 1100);
      float[] stored = TestVectors.adversarial(random, dimension);
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
      QueryBlocks blocks = new QueryBlocks(query, from, dimensions);
      for (VectorSketch.Kernel kernel : kernels()) {
        float sum = VectorSketch.accumulate(kernel, blocks, sketch, 7, 0f, bound);
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

  /**
   * With every dimension sketched, the bound of a distant vector is close to its distance, whether
   * the vectors are centred, offset by 1000, sparse and non-negative, or non-negative like raw
   * pool_3 features: centring quantizes each block over its own range.
   */
  @Test
  public void testLowerBoundIsTight() {
    Random random = random();
    for (int iteration = 0; iteration < 200; iteration++) {
      int dimension = 64 + random.nextInt(1000);
      int family = iteration % 4;
      float[] stored = spread(random, dimension, family);
      float[] query = spread(random, dimension, family);
      byte[] sketch = VectorSketch.encode(stored, 0, dimension);
      float distance = SquaredDistance.squaredDistance(query, VectorFormat.toBytes(stored), 0);
      QueryBlocks blocks = new QueryBlocks(query, 0, dimension);
      for (VectorSketch.Kernel kernel : kernels()) {
        float lowerBound =
            VectorSketch.accumulate(kernel, blocks, sketch, 0, 0f, Float.POSITIVE_INFINITY);
        assertTrue(family + ": " + lowerBound + " vs " + distance, lowerBound >= 0.95f * distance);
      }
    }
  }

  /** A block offset by 1000 quantizes as finely as the block itself: its step is its range's. */
  @Test
  public void testOffsetBlocksQuantizeAsFinelyAsCentredOnes() {
    Random random = random();
    for (int iteration = 0; iteration < 100; iteration++) {
      float[] centred = TestVectors.random(random, VectorSketch.BLOCK);
      float[] offset = new float[centred.length];
      for (int i = 0; i < centred.length; i++) {
        offset[i] = 1000f + centred[i];
      }
      float near = VectorSketch.errorNorm(VectorSketch.encode(centred, 0, centred.length), 0, 0);
      float far = VectorSketch.errorNorm(VectorSketch.encode(offset, 0, offset.length), 0, 0);
      // the offset vector's own float rounding (2^-14 near 1000) is all it adds
      assertTrue(near + " vs " + far, far <= 1.1f * near + 0x1p-14f * 12);
      byte[] constant = VectorSketch.encode(new float[] {1000f, 1000f, 1000f}, 0, 3);
      assertEquals(1000f, VectorSketch.mid(constant, 0, 0), 0f);
      assertEquals(Float.MIN_VALUE, VectorSketch.errorNorm(constant, 0, 0), 0f);
    }
  }

  @Test
  public void testSketchOfTheQueryItselfBoundsNothingOut() {
    Random random = random();
    for (int iteration = 0; iteration < 200; iteration++) {
      int dimension = 1 + random.nextInt(600);
      float[] vector = TestVectors.adversarial(random, dimension);
      byte[] sketch = VectorSketch.encode(vector, 0, dimension);
      QueryBlocks blocks = new QueryBlocks(vector, 0, dimension);
      for (VectorSketch.Kernel kernel : kernels()) {
        assertEquals(0f, VectorSketch.accumulate(kernel, blocks, sketch, 0, 0f, 0f), 0f);
      }
    }
  }

  /** The query's blocks are cached by query point, first component and length. */
  @Test
  public void testQueryBlocksAreReusedForTheSameQueryAndStage() {
    float[] query = TestVectors.random(random(), 300);
    QueryBlocks blocks = QueryBlocks.of(null, query, 0, 256);
    assertSame(blocks, QueryBlocks.of(blocks, query, 0, 256));
    assertNotSame(blocks, QueryBlocks.of(blocks, query, 256, 44));
    assertNotSame(blocks, QueryBlocks.of(blocks, query.clone(), 0, 256));
  }

  /** The scalar kernel, and the SIMD kernel where this JVM has one (as under Surefire here). */
  private static List<VectorSketch.Kernel> kernels() {
    VectorSketch.Kernel scalar = VectorSketch::dotScalar;
    return SquaredDistance.SIMD == null ? List.of(scalar) : List.of(scalar, SquaredDistance.SIMD);
  }

  /**
   * Unrelated vectors of one family: centred, offset by 1000, sparse and non-negative, or dense
   * non-negative with a mean of about 0.4, like raw pool_3 features.
   */
  private static float[] spread(Random random, int dimension, int family) {
    float[] vector = TestVectors.random(random, dimension);
    for (int i = 0; i < dimension; i++) {
      vector[i] =
          switch (family) {
            case 0 -> vector[i];
            case 1 -> 1000f + vector[i];
            case 2 -> random.nextInt(4) == 0 ? Math.abs(vector[i]) : 0f;
            default -> 0.4f * vector[i] * vector[i] + 0.4f * Math.max(0f, vector[i]);
          };
    }
    return vector;
  }

  /** The vector itself, a near duplicate of it, or an unrelated vector. */
  private static float[] query(Random random, float[] stored) {
    float[] query = stored.clone();
    switch (random.nextInt(4)) {
      case 0 -> {}
      case 1 -> {
        for (int i = 0; i < query.length; i++) {
          query[i] += (random.nextFloat() - 0.5f) * Math.abs(query[i]) * 1e-2f;
        }
      }
      case 2 -> query = TestVectors.adversarial(random, stored.length);
      default -> { // unrelated but of the same scale and offset
        for (int i = 0; i < query.length; i++) {
          query[i] += (random.nextFloat() - 0.5f) * Math.abs(query[i]);
        }
      }
    }
    return query;
  }

  private static byte[] withOffset(byte[] raw, int offset) {
    byte[] bytes = new byte[offset + raw.length];
    System.arraycopy(raw, 0, bytes, offset, raw.length);
    return bytes;
  }
}
