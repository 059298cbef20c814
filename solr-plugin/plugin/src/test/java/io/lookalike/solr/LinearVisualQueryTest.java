package io.lookalike.solr;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.lucene.document.Document;
import org.apache.lucene.document.NumericDocValuesField;
import org.apache.lucene.index.DirectoryReader;
import org.apache.lucene.index.IndexReader;
import org.apache.lucene.index.IndexWriter;
import org.apache.lucene.index.IndexWriterConfig;
import org.apache.lucene.index.IndexableField;
import org.apache.lucene.index.LeafReaderContext;
import org.apache.lucene.index.NoMergePolicy;
import org.apache.lucene.index.Term;
import org.apache.lucene.search.BooleanClause.Occur;
import org.apache.lucene.search.BooleanQuery;
import org.apache.lucene.search.Explanation;
import org.apache.lucene.search.IndexSearcher;
import org.apache.lucene.search.Query;
import org.apache.lucene.search.ScoreDoc;
import org.apache.lucene.search.ScoreMode;
import org.apache.lucene.search.Scorer;
import org.apache.lucene.search.TermQuery;
import org.apache.lucene.search.TopScoreDocCollectorManager;
import org.apache.lucene.search.Weight;
import org.apache.lucene.store.ByteBuffersDirectory;
import org.apache.lucene.store.Directory;
import org.apache.lucene.tests.search.CheckHits;
import org.apache.lucene.tests.search.QueryUtils;
import org.apache.lucene.tests.util.LuceneTestCase;
import org.junit.After;
import org.junit.Before;
import org.junit.Test;

/**
 * The linear mode at the Lucene level, against Lucene's own query checks and a brute-force ranking
 * by the score of {@code w.x + b}: with and without pruning, tails and sketches.
 */
public class LinearVisualQueryTest extends LuceneTestCase {

  private static final String FIELD = "vec";

  private RandomVectorIndex index;
  private IndexReader reader;
  private IndexReader undeleted; // QueryUtils assumes no deleted documents
  private IndexSearcher searcher;
  private int dimension;

  /** The vector of each document by doc id, null for documents without one (or deleted). */
  private float[][] vectors;

  private boolean[] catA;
  private boolean[] deleted;

  @Before
  public void buildIndex() throws IOException {
    dimension = random().nextBoolean() ? 4 : 1 + random().nextInt(300); // one or two sketch stages
    int sketchDimensions = random().nextInt(dimension + 1);
    float[] shared = TestVectors.random(random(), dimension);
    // a few without sketches or tails, as documents indexed before either existed
    index =
        new RandomVectorIndex(
            atLeast(300),
            i -> vector(random(), i, shared),
            (i, vector) ->
                layout(
                    vector,
                    random().nextInt(10) == 0 ? 0 : sketchDimensions,
                    random().nextInt(10) != 0));
    reader = index.reader;
    undeleted = index.undeleted;
    searcher = index.searcher;
    vectors = index.vectors;
    catA = index.catA;
    deleted = index.deleted;
  }

  @After
  public void closeIndex() throws IOException {
    index.close();
  }

  /**
   * Random, far from 0, sparse and non-negative, huge, duplicated, or a few floats from a shared
   * vector: values of both signs, ties and near ties.
   */
  private static float[] vector(Random random, int i, float[] shared) {
    float[] vector = TestVectors.random(random, shared.length);
    for (int c = 0; c < vector.length; c++) {
      vector[c] =
          switch (i % 6) {
            case 0 -> vector[c];
            case 1 -> 1000f + vector[c];
            case 2 -> random.nextInt(4) == 0 ? Math.abs(vector[c]) : 0f;
            case 3 -> vector[c] * 1e15f;
            case 4 -> shared[c];
            default -> c == 0 ? shared[0] + (i % 5) * Math.ulp(shared[0]) : shared[c];
          };
    }
    return vector;
  }

  /** The layout fields of a vector, without the tail unless {@code tail}. */
  private static List<IndexableField> layout(float[] vector, int sketchDimensions, boolean tail) {
    List<IndexableField> fields = VectorFieldLayout.fields(FIELD, vector, sketchDimensions, null);
    if (tail == false) {
      fields.removeIf(f -> f.name().equals(VectorFieldLayout.tailField(FIELD)));
    }
    return fields;
  }

  private float[] weights() {
    float[] weights = TestVectors.random(random(), dimension);
    if (random().nextBoolean()) { // mostly one sign, so that values are far from 0 on one side
      for (int i = 0; i < dimension; i++) {
        weights[i] = Math.abs(weights[i]) * (random().nextInt(5) == 0 ? -1 : 1);
      }
    }
    return weights;
  }

  private float bias() {
    float[] biases = {0f, -0.31f, 1e6f, -1e30f};
    return biases[random().nextInt(biases.length)];
  }

  @Test
  public void testTopHitsEqualBruteForce() throws IOException {
    for (int iteration = 0; iteration < 10; iteration++) {
      float[] weights = weights();
      float bias = bias();
      Query query = new LinearVisualQuery(FIELD, weights, bias);
      int k = 1 + random().nextInt(20);
      index.assertTopHits(query, k, onlyA -> bruteForce(weights, bias, k, onlyA));
    }
  }

  @Test
  public void testPassesLuceneQueryChecks() throws IOException {
    Query query = new LinearVisualQuery(FIELD, weights(), bias());
    QueryUtils.check(random(), query, newSearcher(undeleted)); // skipping, explanations, count
    CheckHits.checkTopScores(random(), query, searcher); // setMinCompetitiveScore, getMaxScore
    Query filtered =
        new BooleanQuery.Builder()
            .add(query, Occur.MUST)
            .add(new TermQuery(new Term("cat", "a")), Occur.FILTER)
            .build();
    CheckHits.checkTopScores(random(), filtered, searcher);
  }

  @Test
  public void testExplainsTheValue() throws IOException {
    float[] weights = weights();
    float bias = bias();
    int withVector = 0;
    while (vectors[withVector] == null) {
      withVector++;
    }
    float value = TestVectors.linearValue(weights, bias, vectors[withVector]);
    Explanation match = searcher.explain(new LinearVisualQuery(FIELD, weights, bias), withVector);
    assertTrue(match.isMatch());
    assertEquals(TestVectors.linearScore(value), match.getValue().floatValue(), 0f);
    assertTrue(match.getDescription(), match.getDescription().startsWith("w.x + b=" + value));
    int withoutVector = 0;
    while (vectors[withoutVector] != null || deleted[withoutVector]) {
      withoutVector++;
    }
    Explanation none = searcher.explain(new LinearVisualQuery(FIELD, weights, bias), withoutVector);
    assertFalse(none.isMatch());
    assertEquals("no vector in " + FIELD, none.getDescription());
  }

  /** No score: every document with a vector matches, with no value computed. */
  @Test
  public void testWithoutScoresEveryVectorMatches() throws IOException {
    LinearVisualQuery query = new LinearVisualQuery(FIELD, weights(), bias());
    Weight noScores = query.createWeight(searcher, ScoreMode.COMPLETE_NO_SCORES, 1f);
    for (LeafReaderContext leaf : reader.leaves()) {
      Scorer plain = noScores.scorer(leaf);
      if (plain != null) {
        assertNull("a plain iterator, no value", plain.twoPhaseIterator());
      }
    }
    int withVectors = bruteForce(new float[dimension], 0f, reader.maxDoc(), false).size();
    assertEquals(withVectors, searcher.count(query));
  }

  /**
   * The same hits with and without the tails that enable pruning, and the pruning real: with them,
   * a top 10 reads a fraction of the vectors (counted, not timed).
   */
  @Test
  public void testPruningIsExactAndReadsFewerVectors() throws IOException {
    int docs = 3000;
    float[] weights = TestVectors.random(random(), 64);
    float bias = random().nextFloat() - 0.5f;
    List<String> found = new ArrayList<>();
    List<Integer> reads = new ArrayList<>();
    for (boolean tail : new boolean[] {true, false}) {
      Random random = new Random(42); // the same documents, in the same order, in both indexes
      IndexWriterConfig inOrder = new IndexWriterConfig().setMergePolicy(NoMergePolicy.INSTANCE);
      try (Directory dir = new ByteBuffersDirectory();
          IndexWriter writer = new IndexWriter(dir, inOrder)) {
        for (int i = 0; i < docs; i++) {
          Document doc = new Document();
          doc.add(new NumericDocValuesField("i", i));
          layout(TestVectors.random(random, 64), 64, tail).forEach(doc::add);
          writer.addDocument(doc);
        }
        AtomicInteger count = new AtomicInteger();
        try (DirectoryReader plain = DirectoryReader.open(writer)) {
          IndexSearcher counting =
              new IndexSearcher(VisualQueryTest.countingVectorReads(plain, count));
          counting.setQueryCache(null);
          ScoreDoc[] top =
              counting.search(
                      new LinearVisualQuery(FIELD, weights, bias),
                      new TopScoreDocCollectorManager(10, 10))
                  .scoreDocs;
          StringBuilder hits = new StringBuilder();
          for (ScoreDoc hit : top) {
            hits.append(hit.doc).append('=').append(hit.score).append(' ');
          }
          found.add(hits.toString());
          reads.add(count.get());
        }
      }
    }
    assertEquals("with and without tails", found.get(0), found.get(1));
    assertEquals("without tails every vector is read", docs, (int) reads.get(1));
    assertTrue("vectors read with tails: " + reads.get(0), reads.get(0) < docs / 4);
  }

  @Test
  public void testEqualsHashCodeAndToString() {
    float[] weights = {0.1f, 0.2f, 0.3f, 0.4f};
    LinearVisualQuery query = new LinearVisualQuery("image_vector", weights, -0.31f);
    QueryUtils.check(query);
    QueryUtils.checkEqual(query, new LinearVisualQuery("image_vector", weights.clone(), -0.31f));
    QueryUtils.checkUnequal(query, new LinearVisualQuery("other", weights, -0.31f));
    QueryUtils.checkUnequal(query, new LinearVisualQuery("image_vector", weights, 0.31f));
    QueryUtils.checkUnequal(
        query, new LinearVisualQuery("image_vector", new float[] {0.1f, 0.2f, 0.3f, 0.5f}, -0.31f));
    QueryUtils.checkUnequal(
        query, new VisualQuery("image_vector", weights, Float.POSITIVE_INFINITY));
    // -0.0 is 0.0, in the bias as in the weights
    QueryUtils.checkEqual(
        new LinearVisualQuery("f", new float[] {0f, 1f}, 0f),
        new LinearVisualQuery("f", new float[] {-0f, 1f}, -0f));
    assertEquals(
        "visualLinear(image_vector, dim=4, bias=-0.31, [0.1, 0.2, 0.3, ...])", query.toString());
    weights[0] = 9f; // the query keeps its own copy
    assertEquals(0.1f, query.getWeights()[0], 0f);
    for (float bias : new float[] {Float.NaN, Float.POSITIVE_INFINITY, 0x1p127f}) {
      expectThrows(IllegalArgumentException.class, () -> new LinearVisualQuery("f", weights, bias));
    }
  }

  /** Documents with a vector by score, then doc id: the order of Lucene's top-k collector. */
  private List<ScoreDoc> bruteForce(float[] weights, float bias, int k, boolean onlyCatA) {
    List<ScoreDoc> hits = new ArrayList<>();
    for (int doc = 0; doc < vectors.length; doc++) {
      if (vectors[doc] != null && (onlyCatA == false || catA[doc])) {
        float value = TestVectors.linearValue(weights, bias, vectors[doc]);
        hits.add(new ScoreDoc(doc, TestVectors.linearScore(value)));
      }
    }
    return TestVectors.topHits(hits, k);
  }
}
