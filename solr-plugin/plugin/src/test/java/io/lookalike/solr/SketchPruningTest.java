package io.lookalike.solr;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.lucene.document.BinaryDocValuesField;
import org.apache.lucene.document.Document;
import org.apache.lucene.index.DirectoryReader;
import org.apache.lucene.index.IndexWriter;
import org.apache.lucene.index.IndexWriterConfig;
import org.apache.lucene.index.IndexableField;
import org.apache.lucene.index.NoMergePolicy;
import org.apache.lucene.search.IndexSearcher;
import org.apache.lucene.search.Query;
import org.apache.lucene.search.ScoreDoc;
import org.apache.lucene.search.TopScoreDocCollectorManager;
import org.apache.lucene.store.ByteBuffersDirectory;
import org.apache.lucene.store.Directory;
import org.apache.lucene.tests.util.LuceneTestCase;
import org.apache.lucene.util.BytesRef;
import org.junit.Test;

/**
 * Measured, not timed: a top-10 reads few whole vectors, as the sketches rule the rest out, for
 * centred vectors and for vectors far from 0 alike (offset by 1000, sparse and non-negative, raw
 * non-negative 2048-d features), in the distance and the linear modes; and the results equal brute
 * force. Segments of the layout before centring are ranked exactly, reading every vector.
 */
public class SketchPruningTest extends LuceneTestCase {

  private static final String FIELD = "vec";
  private static final int DOCS = 4000;
  private static final int CLUSTERS = 20;
  private static final int K = 10;

  /**
   * At most this share of the vectors is read for a top-10 (the query's cluster is 5%; before
   * centring, every vector far from 0 was read).
   */
  private static final int MAX_READS = DOCS / 6;

  private static final String[] FAMILIES = {"centred", "offset", "sparse", "raw2048"};

  @Test
  public void testDistanceTopKReadsFewVectorsInEveryFamily() throws IOException {
    for (String family : FAMILIES) {
      Random random = new Random(random().nextLong());
      float[][] vectors = vectors(random, family);
      float[] query = member(random, family, random.nextInt(CLUSTERS));
      int reads = topK(vectors, sketchDimensions(family), new VisualQuery(FIELD, query, inf()));
      assertTrue(family + ": vectors read " + reads, reads <= MAX_READS);
    }
  }

  @Test
  public void testLinearTopKReadsFewVectorsFarFromZero() throws IOException {
    for (String family : FAMILIES) {
      Random random = new Random(random().nextLong());
      float[][] vectors = vectors(random, family);
      // the weights of a classifier of one cluster: its centre, less the mean of the others
      float[] weights = member(random, family, random.nextInt(CLUSTERS));
      float[] mean = new float[weights.length];
      for (float[] vector : vectors) {
        for (int i = 0; i < mean.length; i++) {
          mean[i] += vector[i] / vectors.length;
        }
      }
      for (int i = 0; i < weights.length; i++) {
        weights[i] -= mean[i];
      }
      Query query = new LinearVisualQuery(FIELD, weights, -0.5f);
      int reads = topK(vectors, sketchDimensions(family), query);
      assertTrue(family + ": vectors read " + reads, reads <= MAX_READS);
    }
  }

  /** Sketches under the names of the layout before centring are never read as the new layout. */
  @Test
  public void testSketchesOfTheLayoutBeforeCentringAreIgnored() throws IOException {
    Random random = new Random(random().nextLong());
    float[][] vectors = vectors(random, "centred");
    float[] query = member(random, "centred", 3);
    try (Directory directory = new ByteBuffersDirectory();
        IndexWriter writer = new IndexWriter(directory, inOrder())) {
      for (float[] vector : vectors) {
        Document doc = new Document();
        doc.add(new BinaryDocValuesField(FIELD, new BytesRef(VectorFormat.toBytes(vector))));
        // what an older version wrote: its sketches under the old names, read as garbage here
        byte[] old = new byte[VectorSketch.length(64)];
        random.nextBytes(old);
        doc.add(new BinaryDocValuesField(FIELD + ".sketch1", new BytesRef(old)));
        writer.addDocument(doc);
      }
      int reads = search(writer, vectors, new VisualQuery(FIELD, query, inf()));
      assertEquals("every vector is read, none ruled out", DOCS, reads);
    }
  }

  /**
   * One segment holding both layouts of the sketch stages, document by document, as a merge of
   * segments written before and after the first stage became one block: each document is screened
   * by its own first stage, so the top-10 is exact and reads few vectors.
   */
  @Test
  public void testASegmentOfBothStageLayoutsPrunesEachDocument() throws IOException {
    Random random = new Random(random().nextLong());
    String family = "raw2048";
    float[][] vectors = vectors(random, family);
    float[] query = member(random, family, random.nextInt(CLUSTERS));
    int sketched = sketchDimensions(family);
    try (Directory directory = new ByteBuffersDirectory();
        IndexWriter writer = new IndexWriter(directory, inOrder())) {
      for (float[] vector : vectors) {
        List<IndexableField> fields = VectorFieldLayout.fields(FIELD, vector, sketched, null);
        if (random.nextBoolean()) { // the layout before: the first half in the first stage
          int half = sketched / 2;
          fields.set(1, sketchStage(0, VectorSketch.encode(vector, 0, half)));
          fields.set(2, sketchStage(1, VectorSketch.encode(vector, half, sketched)));
        }
        Document doc = new Document();
        fields.forEach(doc::add);
        writer.addDocument(doc);
      }
      int reads = search(writer, vectors, new VisualQuery(FIELD, query, inf()));
      assertTrue("vectors read " + reads, reads <= MAX_READS);
    }
  }

  private static IndexableField sketchStage(int stage, byte[] sketch) {
    return new BinaryDocValuesField(VectorFieldLayout.sketchField(FIELD, stage), new BytesRef(sketch));
  }

  private static float inf() {
    return Float.POSITIVE_INFINITY;
  }

  /** The vectors read by a pruned top-10 of {@code query}, checked against brute force. */
  private static int topK(float[][] vectors, int sketchDimensions, Query query) throws IOException {
    try (Directory directory = new ByteBuffersDirectory();
        IndexWriter writer = new IndexWriter(directory, inOrder())) {
      for (float[] vector : vectors) {
        Document doc = new Document();
        VectorFieldLayout.fields(FIELD, vector, sketchDimensions, null).forEach(doc::add);
        writer.addDocument(doc);
      }
      return search(writer, vectors, query);
    }
  }

  private static IndexWriterConfig inOrder() {
    return new IndexWriterConfig().setMergePolicy(NoMergePolicy.INSTANCE);
  }

  private static int search(IndexWriter writer, float[][] vectors, Query query) throws IOException {
    AtomicInteger reads = new AtomicInteger();
    try (DirectoryReader plain = DirectoryReader.open(writer)) {
      IndexSearcher searcher = new IndexSearcher(VisualQueryTest.countingVectorReads(plain, reads));
      searcher.setQueryCache(null);
      // totalHitsThreshold K: the collector's minimum competitive score prunes
      ScoreDoc[] top = searcher.search(query, new TopScoreDocCollectorManager(K, K)).scoreDocs;
      List<ScoreDoc> expected = bruteForce(vectors, query);
      TestVectors.assertHits(expected, top);
    }
    return reads.get();
  }

  /** The top K by score, then doc id, in insertion order (one segment after another). */
  private static List<ScoreDoc> bruteForce(float[][] vectors, Query query) {
    List<ScoreDoc> hits = new ArrayList<>();
    for (int doc = 0; doc < vectors.length; doc++) {
      float score =
          query instanceof LinearVisualQuery linear
              ? TestVectors.linearScore(
                  TestVectors.linearValue(linear.getWeights(), -0.5f, vectors[doc]))
              : TestVectors.score(
                  TestVectors.sqdistFloat(((VisualQuery) query).getTarget(), vectors[doc]));
      hits.add(new ScoreDoc(doc, score));
    }
    return TestVectors.topHits(hits, K);
  }

  private static int dimension(String family) {
    return family.equals("raw2048") ? 2048 : 256;
  }

  /** The field type's default share of the dimension. */
  private static int sketchDimensions(String family) {
    return dimension(family) / ImageVectorField.DEFAULT_SKETCH_DIVISOR;
  }

  /** {@link #DOCS} vectors of a family, in {@link #CLUSTERS} clusters, in random order. */
  private static float[][] vectors(Random random, String family) {
    float[][] vectors = new float[DOCS][];
    for (int doc = 0; doc < DOCS; doc++) {
      vectors[doc] = member(random, family, random.nextInt(CLUSTERS));
    }
    return vectors;
  }

  private static float[] member(Random random, String family, int cluster) {
    return TestVectors.clusterMember(random, family, cluster, dimension(family));
  }
}
