package io.lookalike.solr;

import java.io.IOException;
import java.util.Random;
import org.apache.lucene.document.Document;
import org.apache.lucene.index.DirectoryReader;
import org.apache.lucene.index.IndexWriter;
import org.apache.lucene.index.IndexWriterConfig;
import org.apache.lucene.index.LeafReaderContext;
import org.apache.lucene.index.NoMergePolicy;
import org.apache.lucene.search.DocIdSetIterator;
import org.apache.lucene.search.IndexSearcher;
import org.apache.lucene.search.ScoreMode;
import org.apache.lucene.search.Scorer;
import org.apache.lucene.search.Weight;
import org.apache.lucene.store.ByteBuffersDirectory;
import org.apache.lucene.store.Directory;
import org.apache.lucene.tests.util.LuceneTestCase;
import org.junit.Test;

/**
 * The visual scorer's block maxima ({@link BlockMaxScores}) never fall below a real score in the
 * range asked about, on adversarial vectors (far from 0, sparse, huge, tiny, near duplicates of the
 * query, documents without a sketch or a vector), for distances (both score forms, with and without
 * {@code maxDist}) and linear values, under random minimum competitive scores.
 */
public class BlockMaxScoresTest extends LuceneTestCase {

  private static final String FIELD = "vec";

  /** How many maxima were below the query's maximum score: the checks must not all be trivial. */
  private int informative;

  @Test
  public void testMaxScoresNeverFallBelowRealScores() throws IOException {
    for (int iteration = 0; iteration < 12; iteration++) {
      Random random = new Random(random().nextLong());
      int dimension = 1 + random.nextInt(random.nextBoolean() ? 20 : 300);
      float[][] anchors = new float[8][];
      for (int i = 0; i < anchors.length; i++) {
        anchors[i] = TestVectors.adversarial(random, dimension);
      }
      // the query next to anchor 0; a few documents too, so that a few blocks hold near
      // duplicates of the query (which may score the maximum), the others documents farther away
      float[] point = near(random, anchors[0]);
      float[][] vectors = new float[300 + random.nextInt(700)][];
      for (int doc = 0; doc < vectors.length; doc++) {
        float[] anchor = anchors[random.nextInt(300) == 0 ? 0 : 1 + random.nextInt(7)];
        vectors[doc] = random.nextInt(10) == 0 ? null : near(random, anchor);
      }
      AbstractVisualQuery query =
          switch (iteration % 3) {
            case 0 -> new VisualQuery(FIELD, point, Float.POSITIVE_INFINITY);
            case 1 -> {
              float maxDist = TestVectors.sqdistFloat(point, near(random, anchors[1]));
              yield new VisualQuery(FIELD, point, maxDist, VisualScore.SIMILARITY, null);
            }
            default -> new LinearVisualQuery(FIELD, point, random.nextFloat() - 0.5f);
          };
      // in some indexes a few documents without a sketch, whose blocks then bound nothing
      int unsketched = iteration % 4 == 3 ? 20 : Integer.MAX_VALUE;
      check(random, vectors, 1 + random.nextInt(dimension), unsketched, query);
    }
    assertTrue("maxima below the query's maximum: " + informative, informative > 100);
  }

  /** The anchor, or a copy of it moved by 1e-6, 1e-2 or 1 times each component. */
  private static float[] near(Random random, float[] anchor) {
    float[] vector = anchor.clone();
    float[] scales = {0f, 1e-6f, 1e-2f, 1f};
    float scale = scales[random.nextInt(scales.length)];
    for (int i = 0; i < vector.length; i++) {
      vector[i] += vector[i] * scale * (random.nextFloat() - 0.5f);
    }
    return vector;
  }

  /** Indexes the vectors, one in {@code unsketched} without a sketch, and walks each segment. */
  private void check(
      Random random,
      float[][] vectors,
      int sketchDimensions,
      int unsketched,
      AbstractVisualQuery query)
      throws IOException {
    IndexWriterConfig config =
        new IndexWriterConfig().setMergePolicy(NoMergePolicy.INSTANCE).setMaxBufferedDocs(400);
    try (Directory directory = new ByteBuffersDirectory();
        IndexWriter writer = new IndexWriter(directory, config)) {
      for (float[] vector : vectors) {
        Document doc = new Document();
        if (vector != null) {
          // as documents indexed before sketches were turned on
          int sketched = random.nextInt(unsketched) == 0 ? 0 : sketchDimensions;
          VectorFieldLayout.fields(FIELD, vector, sketched, null).forEach(doc::add);
        }
        writer.addDocument(doc);
      }
      try (DirectoryReader reader = DirectoryReader.open(writer)) {
        IndexSearcher searcher = new IndexSearcher(reader);
        Weight weight = query.createWeight(searcher, ScoreMode.TOP_SCORES, 1f);
        for (LeafReaderContext leaf : reader.leaves()) {
          for (int walk = 0; walk < 3; walk++) {
            Scorer scorer = weight.scorerSupplier(leaf).get(Long.MAX_VALUE);
            walk(random, scorer, vectors, leaf.docBase, leaf.reader().maxDoc(), query);
          }
        }
      }
    }
  }

  /**
   * Shallow-advances and advances the scorer at random, with rising minimum competitive scores,
   * checking each maximum against the real scores of the documents of its range that may match.
   */
  private void walk(
      Random random,
      Scorer scorer,
      float[][] vectors,
      int docBase,
      int maxDoc,
      AbstractVisualQuery query)
      throws IOException {
    float minScore = 0f;
    int target = 0;
    while (target < maxDoc) {
      if (random.nextInt(4) == 0) {
        int doc = scorer.iterator().advance(Math.max(target, scorer.docID() + 1));
        if (doc == DocIdSetIterator.NO_MORE_DOCS) {
          return;
        }
        float score = scorer.score();
        assertEquals(score(query, vectors[docBase + doc]), score, 0f);
        assertTrue(score + " > " + scorer.getMaxScore(doc), score <= scorer.getMaxScore(doc));
        target = doc;
      }
      int end = scorer.advanceShallow(target);
      assertTrue(end + " < " + target, end >= target);
      int upTo =
          switch (random.nextInt(3)) {
            case 0 -> end;
            case 1 -> target + random.nextInt(2000);
            default -> maxDoc - 1;
          };
      float max = scorer.getMaxScore(upTo);
      if (max < ceiling(query)) {
        informative++;
      }
      for (int doc = target; doc <= Math.min(upTo, maxDoc - 1); doc++) {
        float[] vector = vectors[docBase + doc];
        if (matches(query, vector) && score(query, vector) >= minScore) {
          float real = score(query, vector);
          assertTrue(query + " doc " + doc + ": " + real + " > max " + max, real <= max);
        }
      }
      if (random.nextInt(5) == 0 && max > 0f) { // the collector raises its minimum
        minScore = Math.max(minScore, max * random.nextFloat());
        scorer.setMinCompetitiveScore(minScore);
      }
      target = Math.max(target + 1 + random.nextInt(64), scorer.docID());
    }
  }

  /** The real score, computed from the vector as the documentation defines it. */
  private static float score(AbstractVisualQuery query, float[] vector) {
    if (query instanceof LinearVisualQuery linear) {
      return TestVectors.linearScore(
          TestVectors.linearValue(linear.getWeights(), linear.getBias(), vector));
    }
    VisualQuery visual = (VisualQuery) query;
    float distance = TestVectors.sqdistFloat(visual.getTarget(), vector);
    return visual.score == VisualScore.RANK
        ? TestVectors.score(distance)
        : TestVectors.similarity(distance);
  }

  /** The query's maximum score: that of distance 0, or of the largest value. */
  private static float ceiling(AbstractVisualQuery query) {
    return query instanceof VisualQuery visual
        ? visual.score.score(1f, 0f)
        : LinearScore.score(Float.MAX_VALUE);
  }

  /** Whether the document matches at all: within {@code maxDist}, if any. */
  private static boolean matches(AbstractVisualQuery query, float[] vector) {
    if (vector == null) {
      return false;
    }
    if (query instanceof VisualQuery visual) {
      return TestVectors.sqdistFloat(visual.getTarget(), vector) <= visual.getMaxDist();
    }
    return true;
  }
}
