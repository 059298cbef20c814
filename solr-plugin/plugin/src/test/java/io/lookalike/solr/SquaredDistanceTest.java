package io.lookalike.solr;

import java.util.Random;
import org.apache.lucene.tests.util.LuceneTestCase;
import org.junit.Test;

/**
 * The kernels: SIMD and scalar give bit-identical distances and dot products (so every shard scores
 * alike whatever its JVM), abandoning and prefix lower bounds are exact.
 */
public class SquaredDistanceTest extends LuceneTestCase {

  private static final SquaredDistance.Term SQUARES = SquaredDistance.Term.SQUARED_DIFFERENCE;

  @Test
  public void testEqualsTheDocumentedSummationOrder() {
    Random random = random();
    for (int iteration = 0; iteration < 200; iteration++) {
      int dimension = 1 + random.nextInt(300);
      float[] query = TestVectors.random(random, dimension);
      float[] stored = TestVectors.random(random, dimension);
      byte[] bytes = withOffset(stored, 3);
      float expected = TestVectors.sqdistFloat(query, stored);
      assertEquals(expected, SquaredDistance.squaredDistance(query, bytes, 3), 0f);
      assertEquals(
          expected,
          SquaredDistance.scalar(SQUARES, query, dimension, bytes, 3, Float.POSITIVE_INFINITY),
          0f);
      double exact = TestVectors.sqdistDouble(query, stored);
      assertEquals(exact, expected, TestVectors.tolerance(dimension, exact));
    }
  }

  @Test
  public void testDotProductEqualsTheDocumentedSummationOrder() {
    Random random = random();
    for (int iteration = 0; iteration < 200; iteration++) {
      int dimension = 1 + random.nextInt(300);
      float[] weights = TestVectors.random(random, dimension);
      float[] stored = TestVectors.random(random, dimension);
      if (random.nextBoolean()) { // far from 0: a large offset, so that the lanes' order matters
        for (int i = 0; i < dimension; i++) {
          stored[i] += 1000f;
        }
      }
      byte[] bytes = withOffset(stored, 3);
      float expected = TestVectors.dotFloat(weights, stored);
      assertEquals(expected, SquaredDistance.dotProduct(weights, bytes, 3), 0f);
      assertEquals(
          expected,
          SquaredDistance.scalar(
              SquaredDistance.Term.PRODUCT, weights, dimension, bytes, 3, Float.POSITIVE_INFINITY),
          0f);
    }
  }

  /** Runs only where the JVM has the vector module and 256-bit vectors (as under Surefire here). */
  @Test
  public void testVectorizedKernelIsBitIdenticalToScalar() {
    SquaredDistance.Kernel simd = SquaredDistance.SIMD;
    assumeTrue("no SIMD kernel in this JVM", simd != null);
    Random random = random();
    for (int iteration = 0; iteration < 1000; iteration++) {
      SquaredDistance.Term term = SquaredDistance.Term.values()[iteration % 2];
      int dimension = 1 + random.nextInt(1100);
      float[] query = TestVectors.random(random, dimension);
      byte[] bytes = withOffset(TestVectors.random(random, dimension), 5);
      int length = random.nextInt(dimension + 1);
      float full = SquaredDistance.scalar(term, query, length, bytes, 5, Float.POSITIVE_INFINITY);
      // only a sum of squares has a bound to give up at
      float bound =
          term == SQUARES && random.nextBoolean()
              ? full * random.nextFloat() * 2
              : Float.POSITIVE_INFINITY;
      float scalar = SquaredDistance.scalar(term, query, length, bytes, 5, bound);
      float vectorized = simd.sum(term, query, length, bytes, 5, bound);
      if (full <= bound) {
        assertEquals(term.toString(), full, scalar, 0f);
        assertEquals(term.toString(), full, vectorized, 0f);
      } else {
        assertTrue(scalar > bound);
        assertTrue(vectorized > bound);
      }
    }
  }

  @Test
  public void testAbandonsOnlyBeyondTheBound() {
    Random random = random();
    for (int iteration = 0; iteration < 200; iteration++) {
      int dimension = 1 + random.nextInt(500);
      float[] query = TestVectors.random(random, dimension);
      byte[] bytes = withOffset(TestVectors.random(random, dimension), 0);
      float full = SquaredDistance.squaredDistance(query, bytes, 0);
      // the exact distance is within its own bound, and so are distances to larger bounds
      assertEquals(full, SquaredDistance.squaredDistanceBounded(query, bytes, 0, full), 0f);
      assertEquals(
          full, SquaredDistance.squaredDistanceBounded(query, bytes, 0, Math.nextUp(full)), 0f);
      float below = Math.nextDown(full) * random.nextFloat();
      assertTrue(SquaredDistance.squaredDistanceBounded(query, bytes, 0, below) > below);
    }
  }

  @Test
  public void testPrefixIsALowerBound() {
    Random random = random();
    for (int iteration = 0; iteration < 200; iteration++) {
      int dimension = 1 + random.nextInt(500);
      float[] query = TestVectors.random(random, dimension);
      byte[] bytes = withOffset(TestVectors.random(random, dimension), 0);
      float full = SquaredDistance.squaredDistance(query, bytes, 0);
      int length = random.nextInt(dimension + 1);
      float prefix =
          SquaredDistance.squaredDistanceBounded(query, length, bytes, 0, Float.POSITIVE_INFINITY);
      assertTrue(prefix + " > " + full, prefix <= full);
    }
  }

  /** The vector's little-endian bytes, after {@code offset} bytes of padding. */
  private static byte[] withOffset(float[] vector, int offset) {
    byte[] raw = VectorFormat.toBytes(vector);
    byte[] bytes = new byte[offset + raw.length];
    System.arraycopy(raw, 0, bytes, offset, raw.length);
    return bytes;
  }
}
