package io.lookalike.solr;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.Predicate;
import org.apache.lucene.search.ScoreDoc;
import org.junit.Assert;

/** Random vectors and the brute-force references the tests compare the plugin against. */
final class TestVectors {

  private TestVectors() {}

  /**
   * Components uniform in [-1, 1), each one a float that survives the JSON text path unchanged
   * (printed by {@link #json}, read back as a double and narrowed), so base64 and JSON tests can
   * share expected values.
   */
  static float[] random(Random random, int dimension) {
    float[] vector = new float[dimension];
    for (int i = 0; i < dimension; i++) {
      float component = random.nextFloat() * 2 - 1;
      while (component != (float) Double.parseDouble(Float.toString(component))) {
        component = (float) Double.parseDouble(Float.toString(component));
      }
      vector[i] = component;
    }
    return vector;
  }

  /**
   * The reference in float, written from the kernel's documented summation order (component i
   * into partial sum i % 8, then the eight partial sums in order), so results must be identical.
   */
  static float sqdistFloat(float[] a, float[] b) {
    return inKernelOrder(
        a.length,
        i -> {
          float diff = a[i] - b[i];
          return diff * diff;
        });
  }

  /** The dot product in the kernel's order, as {@link #sqdistFloat}: the linear mode's w.x. */
  static float dotFloat(float[] a, float[] b) {
    return inKernelOrder(a.length, i -> a[i] * b[i]);
  }

  /** The linear mode's value {@code w.x + b}, in float, as every shard must compute it. */
  static float linearValue(float[] weights, float bias, float[] vector) {
    return dotFloat(weights, vector) + bias;
  }

  /**
   * The linear mode's score of a value, written out from its documented formula: the value's
   * sortable int (its bits, with the magnitude bits flipped when negative), halved, plus
   * 0x3FC00000, as float bits.
   */
  static float linearScore(float value) {
    int bits = Float.floatToIntBits(value == 0f ? 0f : value);
    int sortable = bits < 0 ? bits ^ 0x7FFFFFFF : bits;
    return Float.intBitsToFloat((sortable >> 1) + 0x3FC00000);
  }

  /**
   * The ids of a page of the documents {@code accept}ed, ranked by the linear mode: by the score of
   * their float value {@code w.x + b}, highest first, equal scores in id order.
   */
  static List<String> highest(
      Map<String, float[]> docs,
      float[] weights,
      float bias,
      Predicate<String> accept,
      int start,
      int rows) {
    Comparator<String> score =
        Comparator.comparing(
            id -> linearScore(linearValue(weights, bias, docs.get(id))), Comparator.reverseOrder());
    return page(docs, accept, score, start, rows);
  }

  /**
   * Asserts that a hit's score is the linear score of its value, and that the score decodes to the
   * value, or to the float just below it, which shares its score.
   */
  static void assertLinearScore(
      String hit, float[] weights, float bias, float[] vector, float score) {
    float value = linearValue(weights, bias, vector);
    Assert.assertEquals(hit, linearScore(value), score, 0f);
    float decoded = LinearScore.decode(score);
    Assert.assertTrue(hit + ": " + decoded, decoded == value || Math.nextUp(decoded) == value);
  }

  /** What component {@code i} adds to its partial sum. */
  private interface Term {
    float of(int i);
  }

  private static float inKernelOrder(int length, Term term) {
    float[] lanes = new float[8];
    for (int i = 0; i < length; i++) {
      lanes[i % 8] += term.of(i);
    }
    float sum = 0f;
    for (float lane : lanes) {
      sum += lane;
    }
    return sum;
  }

  /** The reference in double, to check the float kernel is accurate, not just self-consistent. */
  static double sqdistDouble(float[] a, float[] b) {
    double sum = 0;
    for (int i = 0; i < a.length; i++) {
      double diff = (double) a[i] - b[i];
      sum += diff * diff;
    }
    return sum;
  }

  /**
   * A rigorous bound on the float kernel's error: a float difference, square and running sum each
   * round by at most 2^-24 relative, and the error of a running sum of n non-negative terms is at
   * most (n + 2) * 2^-24 times the sum.
   */
  static double tolerance(int dimension, double distance) {
    return (dimension + 2) * Math.ulp(1f) / 2 * distance;
  }

  /** The score of a document at float distance {@code distance}: the default, exact rank. */
  static float score(float distance) {
    return VisualScore.RANK.score(1f, distance);
  }

  /** The {@code score=similarity} score, {@code 1 / (1 + d)}, written out. */
  static float similarity(float distance) {
    return 1f / (1f + distance);
  }

  /** The JSON-array form, e.g. {@code [0.1, -0.25]}, with Java's shortest round-trip floats. */
  static String json(float[] vector) {
    StringBuilder sb = new StringBuilder("[");
    for (int i = 0; i < vector.length; i++) {
      sb.append(i == 0 ? "" : ", ").append(vector[i]);
    }
    return sb.append(']').toString();
  }

  /**
   * The ids of the {@code k} documents nearest to {@code query} among those {@code accept}ed, by
   * the float reference distance, equal distances in id order (the configset's tie-break).
   */
  static List<String> nearest(
      Map<String, float[]> docs, float[] query, Predicate<String> accept, int k) {
    return nearest(docs, query, accept, 0, k);
  }

  /** Like {@link #nearest(Map, float[], Predicate, int)}, the page of {@code rows} at {@code start}. */
  static List<String> nearest(
      Map<String, float[]> docs, float[] query, Predicate<String> accept, int start, int rows) {
    Comparator<String> distance =
        Comparator.comparingDouble(id -> sqdistFloat(docs.get(id), query));
    return page(docs, accept, distance, start, rows);
  }

  /** The page of {@code rows} at {@code start} of the ids {@code accept}ed, by order, then id. */
  private static List<String> page(
      Map<String, float[]> docs,
      Predicate<String> accept,
      Comparator<String> order,
      int start,
      int rows) {
    List<String> ids = new ArrayList<>();
    for (String id : docs.keySet()) {
      if (accept.test(id)) {
        ids.add(id);
      }
    }
    ids.sort(order.thenComparing(Comparator.naturalOrder()));
    int from = Math.min(start, ids.size());
    return new ArrayList<>(ids.subList(from, Math.min(start + rows, ids.size())));
  }

  /** The centroid of some documents' vectors, in double precision. */
  static double[] mean(List<String> ids, Map<String, float[]> vectors) {
    double[] mean = new double[vectors.get(ids.get(0)).length];
    for (String id : ids) {
      float[] vector = vectors.get(id);
      for (int i = 0; i < mean.length; i++) {
        mean[i] += vector[i] / (double) ids.size();
      }
    }
    return mean;
  }

  /** The squared distance to a double-precision point. */
  static double sqdist(float[] a, double[] b) {
    double sum = 0;
    for (int i = 0; i < a.length; i++) {
      double diff = a[i] - b[i];
      sum += diff * diff;
    }
    return sum;
  }

  /**
   * A member of cluster {@code cluster}: its centre (the same for every call, from the cluster's
   * own seed) plus noise. Centred and offset: PCA-like, the spread decreasing with the component;
   * offset: then 1000 added to every component; sparse: non-negative, zero outside a quarter of the
   * components that the cluster uses; raw2048: non-negative and dense, a mean near 0.4 and no order
   * of the components, like InceptionV3 pool_3 features.
   */
  static float[] clusterMember(Random random, String family, int cluster, int dimension) {
    Random centres = new Random(family.hashCode() * 31L + cluster);
    float[] vector = new float[dimension];
    for (int i = 0; i < dimension; i++) {
      float centre = centres.nextFloat() * 2 - 1;
      float noise = (random.nextFloat() * 2 - 1) * 0.1f;
      float spread = 1f / (1f + i / 16f);
      vector[i] =
          switch (family) {
            case "centred" -> (centre + noise) * spread;
            case "offset" -> 1000f + (centre + noise) * spread;
            case "sparse" -> centres.nextInt(4) == 0 ? Math.abs(centre + noise) * spread : 0f;
            default -> Math.max(0f, 0.4f + 0.4f * centre + noise);
          };
    }
    return vector;
  }

  /**
   * What stresses the sketches' bounds: mixed scales and zero blocks, far from 0 (an offset),
   * sparse and non-negative, huge within the bounds, tiny (subnormal products), near-cancelling
   * signs.
   */
  static float[] adversarial(Random random, int dimension) {
    float[] vector = random(random, dimension);
    float scale = (float) Math.pow(10, random.nextInt(61) - 30);
    int family = random.nextInt(6);
    for (int i = 0; i < dimension; i++) {
      vector[i] =
          switch (family) {
            case 0 -> random.nextInt(8) == 0 ? 0f : vector[i] * (i % 2 == 0 ? scale : 1e-6f);
            case 1 -> 1000f + vector[i];
            case 2 -> random.nextInt(4) == 0 ? Math.abs(vector[i]) : 0f;
            case 3 -> vector[i] * 0x1p61f / (float) Math.sqrt(dimension);
            case 4 -> vector[i] * 1e-25f;
            default -> i % 2 == 0 ? 1f + vector[i] * 1e-7f : -1f;
          };
    }
    while (VectorFormat.beyondSquaredNorm(vector) >= 0) { // within the bounds of every vector
      for (int i = 0; i < dimension; i++) {
        vector[i] *= 0x1p-8f;
      }
    }
    return vector;
  }

  /** The first {@code k} of {@code hits} in the order of Lucene's top-k collector. */
  static List<ScoreDoc> topHits(List<ScoreDoc> hits, int k) {
    hits.sort(Comparator.comparing((ScoreDoc hit) -> -hit.score).thenComparingInt(hit -> hit.doc));
    return hits.subList(0, Math.min(k, hits.size()));
  }

  /** Asserts the same documents, in the same order, with the same scores. */
  static void assertHits(List<ScoreDoc> expected, ScoreDoc[] actual) {
    Assert.assertEquals(expected.size(), actual.length);
    for (int i = 0; i < actual.length; i++) {
      Assert.assertEquals("rank " + i, expected.get(i).doc, actual[i].doc);
      Assert.assertEquals("rank " + i, expected.get(i).score, actual[i].score, 0f);
    }
  }
}
