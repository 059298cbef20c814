package io.lookalike.solr;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.lucene.document.Document;
import org.apache.lucene.document.Field;
import org.apache.lucene.document.TextField;
import org.apache.lucene.index.DirectoryReader;
import org.apache.lucene.index.IndexWriter;
import org.apache.lucene.index.IndexWriterConfig;
import org.apache.lucene.index.NoMergePolicy;
import org.apache.lucene.index.Term;
import org.apache.lucene.search.BooleanClause.Occur;
import org.apache.lucene.search.BooleanQuery;
import org.apache.lucene.search.BoostQuery;
import org.apache.lucene.search.IndexSearcher;
import org.apache.lucene.search.Query;
import org.apache.lucene.search.ScoreDoc;
import org.apache.lucene.search.TermQuery;
import org.apache.lucene.search.TopScoreDocCollectorManager;
import org.apache.lucene.store.ByteBuffersDirectory;
import org.apache.lucene.store.Directory;
import org.apache.lucene.tests.util.LuceneTestCase;
import org.apache.lucene.tests.util.TestUtil;
import org.junit.Test;

/**
 * A hybrid {@code {!bool should=$kw should=$vis}} with {@code score=similarity}: its top-k is the
 * brute-force top-k of keyword score plus visual similarity, with Lucene's skipping (MaxScore over
 * the visual clause's block maxima) and without, for a query point with near neighbours and one
 * without; and where the keyword clause dominates, the block maxima let it skip most of the vectors
 * that a constant maximum makes it read (counted beyond the first segment, not timed).
 */
public class HybridSearchTest extends LuceneTestCase {

  private static final String FIELD = "vec";
  private static final int DOCS = 6000;
  private static final int DIMENSION = 256;
  private static final int CLUSTERS = 300; // 20 documents each: near neighbours are rare
  private static final int K = 10;

  /**
   * The documents of a first segment, whose reads are not counted: the collector's minimum carries
   * over from one segment to the next, so only the first pays for the start of a search, while
   * nothing is competitive yet and every clause is read (Lucene 9.11's MaxScore does so for a first
   * window of 2048 documents, whatever the maxima). The rest is one segment.
   */
  private static final int FIRST_SEGMENT = 500;

  @Test
  public void testTopKEqualsBruteForceAndKeywordsSkipVectors() throws IOException {
    Random random = new Random(random().nextLong());
    float[][] vectors = new float[DOCS][];
    String[] texts = new String[DOCS];
    for (int doc = 0; doc < DOCS; doc++) {
      vectors[doc] =
          TestVectors.clusterMember(random, "centred", random.nextInt(CLUSTERS), DIMENSION);
      texts[doc] = text(random);
    }
    // A point with 20 near neighbours, and one of a cluster the index lacks, with none: a window
    // of 2048 documents (Lucene 9.11's least) nearly always holds one of 20 in 6000.
    float[][] points = {
      TestVectors.clusterMember(random, "centred", 7, DIMENSION),
      TestVectors.clusterMember(random, "centred", CLUSTERS, DIMENSION)
    };
    // vectors read by the keyword-dominated top-k of the second point, without and with sketches
    int[] reads = new int[2];
    for (int sketched = 0; sketched < 2; sketched++) {
      // without sketches the visual clause's maximum is a constant: the reads before block maxima
      int sketchDimensions = sketched * DIMENSION / ImageVectorField.DEFAULT_SKETCH_DIVISOR;
      try (Directory directory = new ByteBuffersDirectory();
          IndexWriter writer = new IndexWriter(directory, inOrder())) {
        for (int doc = 0; doc < DOCS; doc++) {
          Document document = new Document();
          document.add(new TextField("text", texts[doc], Field.Store.NO));
          VectorFieldLayout.fields(FIELD, vectors[doc], sketchDimensions, null)
              .forEach(document::add);
          writer.addDocument(document);
          if (doc == FIRST_SEGMENT - 1) {
            writer.flush();
          }
        }
        AtomicInteger count = new AtomicInteger();
        AtomicInteger uncounted = new AtomicInteger();
        try (DirectoryReader plain = DirectoryReader.open(writer)) {
          IndexSearcher searcher =
              new IndexSearcher(
                  VisualQueryTest.countingVectorReads(
                      plain, segment -> segment == 0 ? uncounted : count));
          searcher.setQueryCache(null);
          for (float[] point : points) {
            // keywords dominate (BM25 times 10 against a similarity of at most 1), then the visual
            // clause does (BM25 times 0.01): the top-k is exact either way
            for (float keywordBoost : new float[] {10f, 0.01f}) {
              Query hybrid =
                  new BooleanQuery.Builder()
                      .add(keywords(keywordBoost), Occur.SHOULD)
                      .add(visual(point), Occur.SHOULD)
                      .build();
              List<ScoreDoc> expected =
                  bruteForce(searcher, keywords(keywordBoost), vectors, point);
              // totalHitsThreshold K: TOP_SCORES, so MaxScore skips; then COMPLETE, no skipping
              count.set(0);
              TestVectors.assertHits(expected, search(searcher, hybrid, K));
              if (keywordBoost > 1f && point == points[1]) {
                reads[sketched] = count.get();
              }
              TestVectors.assertHits(expected, search(searcher, hybrid, Integer.MAX_VALUE));
            }
          }
        }
      }
    }
    assertTrue(
        "vectors read: " + reads[1] + " with block maxima, " + reads[0] + " without",
        reads[1] * 3 < reads[0]);
  }

  /**
   * Segments in insertion order, none merged, in the default codec: the skipping compared is the
   * default codec's, and under some of the test framework's random codecs the keyword clause's block
   * maxima let neither way skip (seed 76CD38BA881FB50: 195 vectors read without the visual block
   * maxima, 194 with).
   */
  private static IndexWriterConfig inOrder() {
    return new IndexWriterConfig()
        .setCodec(TestUtil.getDefaultCodec())
        .setMergePolicy(NoMergePolicy.INSTANCE);
  }

  private static Query keywords(float boost) {
    return new BoostQuery(new TermQuery(new Term("text", "kw")), boost);
  }

  private static Query visual(float[] point) {
    return new VisualQuery(FIELD, point, Float.POSITIVE_INFINITY, VisualScore.SIMILARITY, null);
  }

  /** One document in five says "kw", once to eight times, among up to 40 other words. */
  private static String text(Random random) {
    StringBuilder text = new StringBuilder("doc");
    int keywords = random.nextInt(5) == 0 ? 1 + random.nextInt(8) : 0;
    for (int i = 0; i < keywords; i++) {
      text.append(" kw");
    }
    for (int i = random.nextInt(40); i > 0; i--) {
      text.append(" w").append(random.nextInt(100));
    }
    return text.toString();
  }

  /**
   * The top K of keyword score plus similarity, summed in double and rounded to float as Lucene's
   * disjunctions do, by score then doc id (one segment after another, in insertion order).
   */
  private static List<ScoreDoc> bruteForce(
      IndexSearcher searcher, Query keywords, float[][] vectors, float[] point) throws IOException {
    double[] scores = new double[vectors.length];
    for (ScoreDoc hit :
        searcher.search(keywords, new TopScoreDocCollectorManager(DOCS, Integer.MAX_VALUE))
            .scoreDocs) {
      scores[hit.doc] = hit.score;
    }
    List<ScoreDoc> hits = new ArrayList<>();
    for (int doc = 0; doc < vectors.length; doc++) {
      float similarity = TestVectors.similarity(TestVectors.sqdistFloat(point, vectors[doc]));
      hits.add(new ScoreDoc(doc, (float) (scores[doc] + similarity)));
    }
    return TestVectors.topHits(hits, K);
  }

  /** The top K, with the collector's minimum competitive score once it counted {@code exact}. */
  private static ScoreDoc[] search(IndexSearcher searcher, Query query, int exact)
      throws IOException {
    return searcher.search(query, new TopScoreDocCollectorManager(K, exact)).scoreDocs;
  }
}
