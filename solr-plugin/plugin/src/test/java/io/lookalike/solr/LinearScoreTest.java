package io.lookalike.solr;

import java.util.Random;
import org.apache.lucene.tests.util.LuceneTestCase;
import org.junit.Test;

/**
 * The linear mode's score: non-negative and finite for every finite value, order-preserving,
 * merging only pairs of adjacent floats, and exactly invertible.
 */
public class LinearScoreTest extends LuceneTestCase {

  private static final float[] EXTREMES = {
    -Float.MAX_VALUE, -1e30f, -1f, -Float.MIN_NORMAL, -Float.MIN_VALUE, 0f, Float.MIN_VALUE,
    Float.MIN_NORMAL, 1f, 1e30f, Float.MAX_VALUE
  };

  @Test
  public void testTheDocumentedFormulaOverTheWholeRange() {
    assertEquals(0f, LinearScore.score(-Float.MAX_VALUE), 0f);
    assertEquals(Float.MAX_VALUE, LinearScore.score(Float.MAX_VALUE), 0f);
    assertEquals(Float.intBitsToFloat(0x3FC00000), LinearScore.score(0f), 0f);
    assertEquals("-0.0 is 0.0", LinearScore.score(0f), LinearScore.score(-0f), 0f);
    for (float value : EXTREMES) {
      assertEquals(TestVectors.linearScore(value), LinearScore.score(value), 0f);
    }
    Random random = random();
    for (int i = 0; i < 100_000; i++) {
      float value = randomFloat(random);
      float score = LinearScore.score(value);
      assertTrue(value + " scores " + score, score >= 0f && score <= Float.MAX_VALUE);
      assertEquals(TestVectors.linearScore(value), score, 0f);
    }
  }

  /** Larger values never score less; two values share a score only as one ulp-apart pair. */
  @Test
  public void testOrderIsKeptAndOnlyAdjacentPairsMerge() {
    Random random = random();
    for (int i = 0; i < 100_000; i++) {
      float low = randomFloat(random);
      float high = random.nextBoolean() ? Math.nextUp(low) : randomFloat(random);
      if (high < low) {
        float swap = low;
        low = high;
        high = swap;
      }
      if (high == Float.POSITIVE_INFINITY || low == high) {
        continue;
      }
      float lowScore = LinearScore.score(low);
      float highScore = LinearScore.score(high);
      assertTrue(low + " < " + high, lowScore <= highScore);
      if (lowScore == highScore) {
        assertEquals("merged only with the next float up", Math.nextUp(low), high, 0f);
        assertEquals(low, LinearScore.decode(lowScore), 0f);
      }
    }
    // each pair is an even sortable int and the odd one above it
    assertEquals(LinearScore.score(0f), LinearScore.score(Float.MIN_VALUE), 0f);
    assertTrue(LinearScore.score(-Float.MIN_VALUE) < LinearScore.score(0f));
    assertTrue(LinearScore.score(Float.MIN_VALUE) < LinearScore.score(2 * Float.MIN_VALUE));
  }

  /** Every score decodes to the smaller value of its pair. */
  @Test
  public void testDecodeInvertsTheScore() {
    Random random = random();
    for (int i = 0; i < 100_000; i++) {
      float value = i < EXTREMES.length ? EXTREMES[i] : randomFloat(random);
      float decoded = LinearScore.decode(LinearScore.score(value));
      assertTrue(
          value + " decodes to " + decoded, decoded == value || Math.nextUp(decoded) == value);
      assertEquals(LinearScore.score(value), LinearScore.score(decoded), 0f);
    }
    for (int i = 0; i < 100_000; i++) {
      // any non-negative finite float is the score of a value
      int bits = random.nextInt(Float.floatToRawIntBits(Float.MAX_VALUE) + 1);
      float score = Float.intBitsToFloat(bits);
      assertEquals(score, LinearScore.score(LinearScore.decode(score)), 0f);
    }
  }

  /** A value scores at least the minimum if and only if it reaches the minimum's value. */
  @Test
  public void testMinCompetitiveValueIsExact() {
    Random random = random();
    for (int i = 0; i < 100_000; i++) {
      float value = randomFloat(random);
      float score = LinearScore.score(value);
      float minScore =
          switch (random.nextInt(4)) {
            case 0 -> score;
            case 1 -> Math.nextUp(score);
            case 2 -> Math.nextDown(score);
            default -> LinearScore.score(randomFloat(random));
          };
      if (minScore < 0f) {
        continue;
      }
      float minValue = LinearScore.minCompetitiveValue(minScore);
      assertEquals(
          value + " against " + minScore + " (" + minValue + ")",
          score >= minScore,
          value >= minValue);
    }
    assertEquals(Float.NEGATIVE_INFINITY, LinearScore.minCompetitiveValue(0f), 0f);
    float infinity = Float.POSITIVE_INFINITY;
    assertEquals(infinity, LinearScore.minCompetitiveValue(infinity), 0f);
    float highest = Float.MAX_VALUE; // the pair of the largest float and the one below it
    assertEquals(highest, Math.nextUp(LinearScore.minCompetitiveValue(highest)), 0f);
  }

  /** Finite floats of every magnitude and sign, uniformly over their bit patterns half the time. */
  private static float randomFloat(Random random) {
    float value;
    do {
      value =
          random.nextBoolean()
              ? Float.intBitsToFloat(random.nextInt())
              : (random.nextFloat() - 0.5f) * (float) Math.pow(10, random.nextInt(60) - 30);
    } while (Float.isFinite(value) == false);
    return value;
  }
}
