package io.lookalike.solr;

import java.io.IOException;
import java.util.HashMap;
import org.apache.lucene.document.BinaryDocValuesField;
import org.apache.lucene.document.Document;
import org.apache.lucene.index.DirectoryReader;
import org.apache.lucene.index.IndexWriter;
import org.apache.lucene.index.LeafReaderContext;
import org.apache.lucene.queries.function.FunctionValues;
import org.apache.lucene.store.Directory;
import org.apache.lucene.tests.util.LuceneTestCase;
import org.apache.lucene.util.BytesRef;
import org.junit.Test;

/** sqdist() values, in any order of access, and its identity for caches. */
public class SquaredDistanceValueSourceTest extends LuceneTestCase {

  @Test
  public void testValuesInAnyOrder() throws IOException {
    int dimension = 8;
    int count = 50;
    float[][] vectors = new float[count][];
    try (Directory directory = newDirectory()) {
      try (IndexWriter writer = new IndexWriter(directory, newIndexWriterConfig())) {
        for (int i = 0; i < count; i++) {
          Document doc = new Document();
          if (i % 3 != 0) { // sparse: every third document has no vector
            vectors[i] = TestVectors.random(random(), dimension);
            byte[] bytes = VectorFormat.toBytes(vectors[i]);
            doc.add(new BinaryDocValuesField("vec", new BytesRef(bytes)));
          }
          writer.addDocument(doc);
        }
        writer.forceMerge(1);
      }
      try (DirectoryReader reader = DirectoryReader.open(directory)) {
        float[] query = TestVectors.random(random(), dimension);
        LeafReaderContext leaf = reader.leaves().get(0);
        FunctionValues values =
            new SquaredDistanceValueSource("vec", query).getValues(new HashMap<>(), leaf);
        // forward, then backward (a caller reading in result order), then again
        int[] order = {1, 2, 40, 41, 3, 0, 49, 5, 5, 4};
        for (int doc : order) {
          if (vectors[doc] == null) {
            assertFalse(values.exists(doc));
            assertEquals(Float.MAX_VALUE, values.floatVal(doc), 0f);
            assertNull(values.objectVal(doc));
          } else {
            assertTrue(values.exists(doc));
            assertEquals(TestVectors.sqdistFloat(query, vectors[doc]), values.floatVal(doc), 0f);
          }
        }
      }
    }
  }

  @Test
  public void testEqualsHashCodeAndDescription() {
    float[] vector = {1f, 2f, 3f, 4f};
    SquaredDistanceValueSource source = new SquaredDistanceValueSource("vec", vector);
    assertEquals(source, new SquaredDistanceValueSource("vec", vector.clone()));
    assertEquals(source.hashCode(), new SquaredDistanceValueSource("vec", vector).hashCode());
    assertNotEquals(source, new SquaredDistanceValueSource("other", vector));
    assertNotEquals(source, new SquaredDistanceValueSource("vec", new float[] {1f, 2f, 3f, 5f}));
    assertEquals("sqdist(vec, dim=4, [1.0, 2.0, 3.0, ...])", source.description());
  }
}
