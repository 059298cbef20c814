package io.lookalike.solr;

import java.io.Closeable;
import java.io.IOException;
import java.util.List;
import java.util.Random;
import java.util.function.Function;
import java.util.function.IntFunction;
import org.apache.lucene.document.Document;
import org.apache.lucene.document.Field;
import org.apache.lucene.document.NumericDocValuesField;
import org.apache.lucene.document.StringField;
import org.apache.lucene.index.DocValues;
import org.apache.lucene.index.IndexReader;
import org.apache.lucene.index.IndexableField;
import org.apache.lucene.index.LeafReaderContext;
import org.apache.lucene.index.NumericDocValues;
import org.apache.lucene.index.Term;
import org.apache.lucene.search.BooleanClause.Occur;
import org.apache.lucene.search.BooleanQuery;
import org.apache.lucene.search.IndexSearcher;
import org.apache.lucene.search.Query;
import org.apache.lucene.search.ScoreDoc;
import org.apache.lucene.search.TermQuery;
import org.apache.lucene.search.TopScoreDocCollectorManager;
import org.apache.lucene.store.Directory;
import org.apache.lucene.tests.index.RandomIndexWriter;
import org.apache.lucene.tests.util.LuceneTestCase;
import org.apache.lucene.util.Bits;

/**
 * A random index for brute-force references, built in the test's random context: documents with a
 * number {@code i} (doc values {@code i}), in category {@code a} when {@code i % 3 == 0} (else
 * {@code b}), nine in ten with a vector in the fields {@code layout} gives, merged into one to
 * three segments, then every document with {@code i % 7 == 3} deleted; and, by doc id, each one's
 * vector (null without one, or when deleted), category and deletion.
 */
final class RandomVectorIndex implements Closeable {

  /** The fields document {@code i} stores its {@code vector} in. */
  interface Layout {
    List<IndexableField> fields(int i, float[] vector);
  }

  private final Directory directory;
  final IndexReader reader;

  /** The same segments before the deletions: Lucene's QueryUtils assumes no deleted documents. */
  final IndexReader undeleted;

  final IndexSearcher searcher;
  final float[][] vectors;
  final boolean[] catA;
  final boolean[] deleted;

  RandomVectorIndex(int count, IntFunction<float[]> vectorOf, Layout layout) throws IOException {
    Random random = LuceneTestCase.random();
    directory = LuceneTestCase.newDirectory();
    float[][] written = new float[count][];
    try (RandomIndexWriter writer = new RandomIndexWriter(random, directory)) {
      for (int i = 0; i < count; i++) {
        Document doc = new Document();
        doc.add(new NumericDocValuesField("i", i));
        doc.add(new StringField("cat", i % 3 == 0 ? "a" : "b", Field.Store.NO));
        doc.add(new StringField("deleted", i % 7 == 3 ? "y" : "n", Field.Store.NO));
        if (i % 10 != 0) {
          written[i] = vectorOf.apply(i);
          layout.fields(i, written[i]).forEach(doc::add);
        }
        writer.addDocument(doc);
      }
      // one to three segments; merges may reorder documents
      writer.forceMerge(1 + random.nextInt(3));
      undeleted = writer.getReader();
      writer.deleteDocuments(new Term("deleted", "y")); // after the merge: searches must skip them
      reader = writer.getReader();
    }
    searcher = LuceneTestCase.newSearcher(reader);
    vectors = new float[reader.maxDoc()][];
    catA = new boolean[reader.maxDoc()];
    deleted = new boolean[reader.maxDoc()];
    for (LeafReaderContext leaf : reader.leaves()) {
      NumericDocValues numbers = DocValues.getNumeric(leaf.reader(), "i");
      Bits live = leaf.reader().getLiveDocs();
      for (int doc = 0; doc < leaf.reader().maxDoc(); doc++) {
        LuceneTestCase.assertTrue(numbers.advanceExact(doc));
        int i = (int) numbers.longValue();
        deleted[leaf.docBase + doc] = live != null && live.get(doc) == false;
        vectors[leaf.docBase + doc] = deleted[leaf.docBase + doc] ? null : written[i];
        catA[leaf.docBase + doc] = i % 3 == 0;
      }
    }
  }

  /**
   * Asserts that the top {@code k} hits of {@code query}, with pruning and without, and within
   * category {@code a}, are {@code expected.apply(onlyCategoryA)}.
   */
  void assertTopHits(Query query, int k, Function<Boolean, List<ScoreDoc>> expected)
      throws IOException {
    // totalHitsThreshold 1: TOP_SCORES, so setMinCompetitiveScore prunes
    ScoreDoc[] pruned = searcher.search(query, new TopScoreDocCollectorManager(k, 1)).scoreDocs;
    ScoreDoc[] complete =
        searcher.search(query, new TopScoreDocCollectorManager(k, Integer.MAX_VALUE)).scoreDocs;
    TestVectors.assertHits(expected.apply(false), pruned);
    TestVectors.assertHits(expected.apply(false), complete);
    Query filtered =
        new BooleanQuery.Builder()
            .add(query, Occur.MUST)
            .add(new TermQuery(new Term("cat", "a")), Occur.FILTER)
            .build();
    TestVectors.assertHits(
        expected.apply(true),
        searcher.search(filtered, new TopScoreDocCollectorManager(k, 1)).scoreDocs);
  }

  @Override
  public void close() throws IOException {
    reader.close();
    undeleted.close();
    directory.close();
  }
}
