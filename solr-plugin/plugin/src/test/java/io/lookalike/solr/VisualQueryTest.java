package io.lookalike.solr;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntFunction;
import org.apache.lucene.document.BinaryDocValuesField;
import org.apache.lucene.document.Document;
import org.apache.lucene.document.LongPoint;
import org.apache.lucene.document.NumericDocValuesField;
import org.apache.lucene.index.BinaryDocValues;
import org.apache.lucene.index.DirectoryReader;
import org.apache.lucene.index.FilterBinaryDocValues;
import org.apache.lucene.index.FilterDirectoryReader;
import org.apache.lucene.index.FilterLeafReader;
import org.apache.lucene.index.IndexReader;
import org.apache.lucene.index.IndexWriter;
import org.apache.lucene.index.IndexWriterConfig;
import org.apache.lucene.index.LeafReader;
import org.apache.lucene.index.LeafReaderContext;
import org.apache.lucene.index.Term;
import org.apache.lucene.search.BooleanClause.Occur;
import org.apache.lucene.search.BooleanQuery;
import org.apache.lucene.search.BulkScorer;
import org.apache.lucene.search.ConstantScoreQuery;
import org.apache.lucene.search.DocIdSetIterator;
import org.apache.lucene.search.Explanation;
import org.apache.lucene.search.IndexSearcher;
import org.apache.lucene.search.LeafCollector;
import org.apache.lucene.search.Query;
import org.apache.lucene.search.Scorable;
import org.apache.lucene.search.ScoreDoc;
import org.apache.lucene.search.ScoreMode;
import org.apache.lucene.search.Sort;
import org.apache.lucene.search.SortField;
import org.apache.lucene.search.TopDocs;
import org.apache.lucene.search.TopFieldCollectorManager;
import org.apache.lucene.search.Scorer;
import org.apache.lucene.search.TermQuery;
import org.apache.lucene.search.Weight;
import org.apache.lucene.store.ByteBuffersDirectory;
import org.apache.lucene.store.Directory;
import org.apache.lucene.tests.index.RandomIndexWriter;
import org.apache.lucene.tests.search.CheckHits;
import org.apache.lucene.tests.search.QueryUtils;
import org.apache.lucene.tests.util.LuceneTestCase;
import org.apache.lucene.util.BytesRef;
import org.junit.After;
import org.junit.Before;
import org.junit.Test;

/** The query at the Lucene level, against Lucene's own query checks and a brute-force ranking. */
public class VisualQueryTest extends LuceneTestCase {

  private static final String FIELD = "vec";

  private RandomVectorIndex index;
  private IndexReader reader;

  /** The same segments before the deletions: Lucene's QueryUtils assumes no deleted documents. */
  private IndexReader undeleted;

  private IndexSearcher searcher;
  private int dimension;

  /** How many leading dimensions the index also keeps a sketch of (0: none). */
  private int sketchDimensions;

  /** The vector of each document by doc id, null for documents without one. */
  private float[][] vectors;

  /** Whether each document by doc id was deleted. */
  private boolean[] deleted;

  /** Whether each document by doc id is in category "a". */
  private boolean[] catA;

  @Before
  public void buildIndex() throws IOException {
    dimension = random().nextBoolean() ? 4 : 1 + random().nextInt(200); // crosses blocks of 64
    sketchDimensions = random().nextInt(dimension + 1);
    // a few without sketches, as documents indexed before sketches were turned on
    index =
        new RandomVectorIndex(
            atLeast(200),
            i -> TestVectors.random(random(), dimension),
            (i, vector) ->
                VectorFieldLayout.fields(
                    FIELD, vector, random().nextInt(10) == 0 ? 0 : sketchDimensions, null));
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

  @Test
  public void testTopHitsEqualBruteForce() throws IOException {
    for (int iteration = 0; iteration < 10; iteration++) {
      float[] target = TestVectors.random(random(), dimension);
      float maxDist = random().nextBoolean() ? Float.POSITIVE_INFINITY : dimension / 2f;
      Query query = new VisualQuery(FIELD, target, maxDist);
      int k = 1 + random().nextInt(20);
      index.assertTopHits(query, k, onlyA -> bruteForce(target, maxDist, k, onlyA));
    }
  }

  @Test
  public void testPassesLuceneQueryChecks() throws IOException {
    float[] target = TestVectors.random(random(), dimension);
    for (float maxDist : new float[] {Float.POSITIVE_INFINITY, dimension / 3f}) {
      for (VisualScore form : VisualScore.values()) {
        Query query = new VisualQuery(FIELD, target, maxDist, form, null);
        QueryUtils.check(random(), query, newSearcher(undeleted)); // skipping, explanations, count
        CheckHits.checkTopScores(random(), query, searcher); // setMinCompetitiveScore, getMaxScore
        Query filtered =
            new BooleanQuery.Builder()
                .add(query, Occur.MUST)
                .add(new TermQuery(new Term("cat", "a")), Occur.FILTER)
                .build();
        CheckHits.checkTopScores(random(), filtered, searcher);
      }
    }
  }

  @Test
  public void testMaxDistIsInclusive() throws IOException {
    float[] target = TestVectors.random(random(), dimension);
    int doc = 0;
    while (vectors[doc] == null) {
      doc++;
    }
    float distance = TestVectors.sqdistFloat(target, vectors[doc]);
    assertTrue(matches(new VisualQuery(FIELD, target, distance), doc));
    assertFalse(matches(new VisualQuery(FIELD, target, Math.nextDown(distance)), doc));
    // the same boundary when only matching, as a filter
    Query filter = new ConstantScoreQuery(new VisualQuery(FIELD, target, distance));
    assertEquals(
        bruteForce(target, distance, reader.maxDoc(), false).size(), searcher.count(filter));
  }

  @Test
  public void testExplainsTheDistance() throws IOException {
    float[] target = TestVectors.random(random(), dimension);
    int withVector = 0;
    while (vectors[withVector] == null) {
      withVector++;
    }
    float distance = TestVectors.sqdistFloat(target, vectors[withVector]);
    Explanation match = searcher.explain(new VisualQuery(FIELD, target, distance), withVector);
    assertTrue(match.isMatch());
    assertEquals(TestVectors.score(distance), match.getValue().floatValue(), 0f);
    assertTrue(match.getDescription(), match.getDescription().startsWith("sqdist=" + distance));

    Query justBelow = new VisualQuery(FIELD, target, Math.nextDown(distance));
    Explanation tooFar = searcher.explain(justBelow, withVector);
    assertFalse(tooFar.isMatch());
    assertTrue(tooFar.getDescription(), tooFar.getDescription().startsWith("sqdist " + distance));

    int withoutVector = 0;
    while (vectors[withoutVector] != null || deleted[withoutVector]) {
      withoutVector++;
    }
    Explanation none = searcher.explain(new VisualQuery(FIELD, target, 1f), withoutVector);
    assertFalse(none.isMatch());
    assertEquals("no vector in " + FIELD, none.getDescription());
  }

  @Test
  public void testMaxCompetitiveDistanceNeverExcludesACompetitiveScore() {
    for (VisualScore form : VisualScore.values()) {
      for (int i = 0; i < 100_000; i++) {
        float boost = random().nextBoolean() ? 1f : random().nextFloat() * 10;
        float distance =
            random().nextBoolean() ? random().nextFloat() * 1e-6f : random().nextFloat() * 5000;
        float score = form.score(boost, distance);
        // the hardest case: the minimum is exactly this document's score
        float bound = form.maxCompetitiveDistance(boost, score);
        assertTrue(form + ": " + distance + " > " + bound + ", boost " + boost, distance <= bound);
      }
      assertEquals(Float.POSITIVE_INFINITY, form.maxCompetitiveDistance(1f, 0f), 0f);
    }
    // nothing can score above the boost
    assertTrue(VisualScore.SIMILARITY.maxCompetitiveDistance(1f, 2f) < 0);
  }

  /** The rank score tells every pair of distances apart and inverts exactly. */
  @Test
  public void testRankScoreIsExactlyDecreasingInTheDistance() {
    float[] distances = {0f, Float.MIN_VALUE, 1e-30f, 5e-6f, 1f, 1e30f, Float.MAX_VALUE};
    for (float distance : distances) {
      float score = VisualScore.RANK.score(1f, distance);
      assertTrue(Float.isFinite(score) && score >= 0f);
      if (distance < Float.MAX_VALUE) { // whose score, 0, bounds nothing
        assertEquals(distance, VisualScore.RANK.maxCompetitiveDistance(1f, score), 0f);
        assertTrue(VisualScore.RANK.score(1f, Math.nextUp(distance)) < score);
      }
    }
    // where 1 / (1 + d) cannot tell two distances apart
    float near = 4.960e-6f;
    float far = Math.nextUp(near);
    assertEquals(VisualScore.SIMILARITY.score(1f, near), VisualScore.SIMILARITY.score(1f, far), 0f);
    assertTrue(VisualScore.RANK.score(1f, near) > VisualScore.RANK.score(1f, far));
  }

  @Test
  public void testEqualsHashCodeAndToString() {
    float[] target = {0.1f, 0.2f, 0.3f, 0.4f};
    VisualQuery query = new VisualQuery("image_vector", target, 12f);
    QueryUtils.check(query);
    QueryUtils.checkEqual(query, new VisualQuery("image_vector", target.clone(), 12f));
    QueryUtils.checkUnequal(query, new VisualQuery("other", target, 12f));
    QueryUtils.checkUnequal(query, new VisualQuery("image_vector", target, 13f));
    QueryUtils.checkUnequal(
        query, new VisualQuery("image_vector", new float[] {0.1f, 0.2f, 0.3f, 0.5f}, 12f));
    QueryUtils.checkUnequal(
        query, new VisualQuery("image_vector", target, Float.POSITIVE_INFINITY));
    QueryUtils.checkUnequal(
        query, new VisualQuery("image_vector", target, 12f, VisualScore.SIMILARITY, null));
    QueryUtils.checkEqual(
        new VisualQuery("image_vector", target, 0f), new VisualQuery("image_vector", target, -0f));
    assertEquals(
        "visual(image_vector, dim=4, score=rank, maxDist=12.0, [0.1, 0.2, 0.3, ...])", query.toString());
    assertEquals(
        "visual(f, dim=1, score=rank, [2.0])",
        new VisualQuery("f", new float[] {2}, Float.POSITIVE_INFINITY).toString());
    target[0] = 9f; // the query keeps its own copy
    assertEquals(0.1f, query.getTarget()[0], 0f);
    expectThrows(IllegalArgumentException.class, () -> new VisualQuery("f", target, -1f));
  }

  @Test
  public void testStoredVectorOfAnotherDimensionFailsLoudly() throws IOException {
    try (Directory dir = newDirectory();
        RandomIndexWriter writer = new RandomIndexWriter(random(), dir)) {
      Document doc = new Document();
      doc.add(new BinaryDocValuesField(FIELD, new BytesRef(VectorFormat.toBytes(new float[3]))));
      writer.addDocument(doc);
      try (IndexReader small = writer.getReader()) {
        IndexSearcher s = newSearcher(small);
        Query query = new VisualQuery(FIELD, new float[4], Float.POSITIVE_INFINITY);
        IllegalStateException e =
            expectThrows(IllegalStateException.class, () -> s.search(query, 1));
        assertTrue(
            e.getMessage(), e.getMessage().contains("holds 12 bytes but dimension 4 needs 16"));
      }
    }
  }

  /** No score and no threshold: every document with a vector matches, no distance computed. */
  @Test
  public void testWithoutScoresOrThresholdNoDistanceIsComputed() throws IOException {
    float[] target = TestVectors.random(random(), dimension);
    VisualQuery everything = new VisualQuery(FIELD, target, Float.POSITIVE_INFINITY);
    VisualQuery within = new VisualQuery(FIELD, target, dimension / 3f);
    // the query's own weights: the searcher's would go through its query cache
    Weight noScores = everything.createWeight(searcher, ScoreMode.COMPLETE_NO_SCORES, 1f);
    Weight thresholded = within.createWeight(searcher, ScoreMode.COMPLETE_NO_SCORES, 1f);
    for (LeafReaderContext leaf : reader.leaves()) {
      Scorer plain = noScores.scorer(leaf);
      if (plain != null) {
        assertNull("a plain iterator, no distance", plain.twoPhaseIterator());
        assertNotNull("maxDist needs the distance", thresholded.scorer(leaf).twoPhaseIterator());
      }
    }
    assertEquals(
        bruteForce(target, Float.POSITIVE_INFINITY, reader.maxDoc(), false).size(),
        searcher.count(everything));
    assertEquals(
        bruteForce(target, dimension / 3f, reader.maxDoc(), false).size(), searcher.count(within));
  }

  /** Measured: a count without threshold reads no vector; with one, only the sketch decides most. */
  @Test
  public void testCountsReadNoVectorWithoutAThreshold() throws IOException {
    AtomicInteger reads = new AtomicInteger();
    IndexSearcher counting = new IndexSearcher(countingVectorReads((DirectoryReader) reader, reads));
    counting.setQueryCache(null);
    float[] target = TestVectors.random(random(), dimension);
    int withVectors = bruteForce(target, Float.POSITIVE_INFINITY, reader.maxDoc(), false).size();
    assertEquals(withVectors, counting.count(new VisualQuery(FIELD, target, Float.POSITIVE_INFINITY)));
    assertEquals("vectors read to count", 0, reads.get());
    counting.search(new VisualQuery(FIELD, target, Float.POSITIVE_INFINITY), 5);
    assertEquals("vectors read to rank", withVectors, reads.get());
  }

  /**
   * Measured: sorted by a field, with a threshold, the top 10 of 30,000 read about one batch of
   * vectors, not 30,000, since the bulk scorer follows the collector's competitive iterator
   * (Lucene's numeric sort only starts skipping in a segment of many documents).
   */
  @Test
  public void testSortByAFieldSkipsTheVectorsOfUncompetitiveDocuments() throws IOException {
    int docs = 30_000;
    try (Directory dir = new ByteBuffersDirectory();
        IndexWriter writer = new IndexWriter(dir, new IndexWriterConfig())) {
      for (int i = 0; i < docs; i++) {
        Document doc = new Document();
        doc.add(new LongPoint("p", i));
        doc.add(new NumericDocValuesField("p", i));
        VectorFieldLayout.fields(FIELD, TestVectors.random(random(), 16), 0, null).forEach(doc::add);
        writer.addDocument(doc);
      }
      writer.forceMerge(1);
      AtomicInteger reads = new AtomicInteger();
      try (DirectoryReader plain = DirectoryReader.open(writer)) {
        IndexSearcher searcher = new IndexSearcher(countingVectorReads(plain, reads));
        searcher.setQueryCache(null);
        Sort byP = new Sort(new SortField("p", SortField.Type.LONG));
        TopDocs top =
            searcher.search(
                // a threshold that every document passes: matching needs the distance
                new VisualQuery(FIELD, new float[16], 1e30f),
                new TopFieldCollectorManager(byP, 10, null, 10));
        assertEquals(10, top.scoreDocs.length);
        for (int i = 0; i < 10; i++) {
          assertEquals(i, top.scoreDocs[i].doc);
        }
        assertTrue("vectors read: " + reads.get(), reads.get() <= 2 * VisualBulkScorer.BATCH);
      }
    }
  }

  /**
   * {@code reader} with a count of the vectors (not sketches) of field {@code vec} its documents'
   * doc values hand out.
   */
  static DirectoryReader countingVectorReads(DirectoryReader reader, AtomicInteger reads)
      throws IOException {
    return countingVectorReads(reader, leaf -> reads);
  }

  /** Like {@link #countingVectorReads(DirectoryReader, AtomicInteger)}, a count per segment. */
  static DirectoryReader countingVectorReads(
      DirectoryReader reader, IntFunction<AtomicInteger> countOfSegment) throws IOException {
    return new FilterDirectoryReader(
        reader,
        new FilterDirectoryReader.SubReaderWrapper() {
          private int segments; // the leaves are wrapped in order

          @Override
          public LeafReader wrap(LeafReader leaf) {
            AtomicInteger reads = countOfSegment.apply(segments++);
            return new FilterLeafReader(leaf) {
              @Override
              public BinaryDocValues getBinaryDocValues(String field) throws IOException {
                BinaryDocValues values = super.getBinaryDocValues(field);
                if (values == null || field.equals(FIELD) == false) {
                  return values;
                }
                return new FilterBinaryDocValues(values) {
                  @Override
                  public BytesRef binaryValue() throws IOException {
                    reads.incrementAndGet();
                    return super.binaryValue();
                  }
                };
              }

              @Override
              public CacheHelper getCoreCacheHelper() {
                return null;
              }

              @Override
              public CacheHelper getReaderCacheHelper() {
                return null;
              }
            };
          }
        }) {
      @Override
      protected DirectoryReader doWrapDirectoryReader(DirectoryReader in) {
        throw new UnsupportedOperationException("not reopened");
      }

      @Override
      public CacheHelper getReaderCacheHelper() {
        return null;
      }
    };
  }

  /** The bulk scorer only scores the documents the collector's competitive iterator keeps. */
  @Test
  public void testBulkScorerHonoursTheCompetitiveIterator() throws IOException {
    float[] target = TestVectors.random(random(), dimension);
    Weight weight =
        searcher.createWeight(
            new VisualQuery(FIELD, target, Float.POSITIVE_INFINITY), ScoreMode.COMPLETE, 1f);
    for (LeafReaderContext leaf : reader.leaves()) {
      BulkScorer bulk = weight.bulkScorer(leaf);
      if (bulk == null) {
        continue;
      }
      int maxDoc = leaf.reader().maxDoc();
      List<Integer> collected = new ArrayList<>();
      bulk.score(
          new LeafCollector() {
            @Override
            public void setScorer(Scorable scorer) {}

            @Override
            public void collect(int doc) {
              collected.add(doc);
            }

            @Override
            public DocIdSetIterator competitiveIterator() {
              return everyThird(maxDoc);
            }
          },
          leaf.reader().getLiveDocs(),
          0,
          DocIdSetIterator.NO_MORE_DOCS);
      List<Integer> expected = new ArrayList<>();
      for (int doc = 0; doc < maxDoc; doc += 3) {
        if (vectors[leaf.docBase + doc] != null) {
          expected.add(doc);
        }
      }
      assertEquals(expected, collected);
    }
  }

  private static DocIdSetIterator everyThird(int maxDoc) {
    return new DocIdSetIterator() {
      private int doc = -1;

      @Override
      public int docID() {
        return doc;
      }

      @Override
      public int nextDoc() {
        return advance(doc + 1);
      }

      @Override
      public int advance(int target) {
        int next = (target + 2) / 3 * 3;
        doc = next < maxDoc ? next : NO_MORE_DOCS;
        return doc;
      }

      @Override
      public long cost() {
        return maxDoc / 3;
      }
    };
  }

  @Test
  public void testSegmentWithoutTheFieldHasNoScorer() throws IOException {
    Query query = new VisualQuery("absent", new float[dimension], Float.POSITIVE_INFINITY);
    Weight weight = searcher.createWeight(query, ScoreMode.COMPLETE, 1f);
    for (LeafReaderContext leaf : reader.leaves()) {
      assertNull(weight.scorer(leaf));
      assertEquals(0, weight.count(leaf));
    }
  }

  private boolean matches(Query query, int doc) throws IOException {
    return searcher.explain(query, doc).isMatch();
  }

  /** Documents within maxDist by score, then doc id: the order of Lucene's top-k collector. */
  private List<ScoreDoc> bruteForce(float[] target, float maxDist, int k, boolean onlyCatA) {
    List<ScoreDoc> hits = new ArrayList<>();
    for (int doc = 0; doc < vectors.length; doc++) {
      if (vectors[doc] == null || (onlyCatA && catA[doc] == false)) {
        continue;
      }
      float distance = TestVectors.sqdistFloat(target, vectors[doc]);
      if (distance <= maxDist) {
        hits.add(new ScoreDoc(doc, TestVectors.score(distance)));
      }
    }
    return TestVectors.topHits(hits, k);
  }
}
