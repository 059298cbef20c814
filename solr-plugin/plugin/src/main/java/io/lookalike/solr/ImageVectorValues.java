package io.lookalike.solr;

import java.io.IOException;
import java.nio.ByteBuffer;
import org.apache.lucene.index.BinaryDocValues;
import org.apache.lucene.index.LeafReader;
import org.apache.lucene.search.DocIdSetIterator;
import org.apache.lucene.util.BytesRef;

/**
 * The image vectors of one segment: the field's {@link BinaryDocValues}, read with the dimension
 * the query expects, and the prefix copies of their leading dimensions where the segment has them
 * (see {@link ImageVectorField#createFields}).
 *
 * <p>Every reader of stored vectors goes through here so that a stored vector of the wrong length
 * (the schema's {@code dimension} changed without reindexing) fails loudly instead of being read as
 * garbage or out of bounds.
 */
final class ImageVectorValues {

  private final BinaryDocValues values;
  private final BinaryDocValues prefixes; // null where the segment has no prefix copies
  private final String field;
  private final int dimension;

  private ImageVectorValues(
      BinaryDocValues values, BinaryDocValues prefixes, String field, int dimension) {
    this.values = values;
    this.prefixes = prefixes;
    this.field = field;
    this.dimension = dimension;
  }

  /** The segment's vectors, or null when no document of the segment has one. */
  static ImageVectorValues get(LeafReader reader, String field, int dimension) throws IOException {
    BinaryDocValues values = reader.getBinaryDocValues(field);
    if (values == null) {
      return null;
    }
    BinaryDocValues prefixes =
        reader.getBinaryDocValues(field + ImageVectorField.PREFIX_SUFFIX);
    return new ImageVectorValues(values, prefixes, field, dimension);
  }

  /** Iterates over the documents that have a vector; positioned like {@link #docID()}. */
  DocIdSetIterator iterator() {
    return values;
  }

  int docID() {
    return values.docID();
  }

  /** Moves to {@code doc} ({@code >= docID()}) and tells whether it has a vector. */
  boolean advanceExact(int doc) throws IOException {
    return values.advanceExact(doc);
  }

  /**
   * See {@link SquaredDistance#squaredDistanceBounded}; the current document must have a vector.
   *
   * <p>With a finite bound, the distance over the prefix copy comes first: it is a lower bound of
   * the whole distance (exact, see {@link SquaredDistance}), so a document it puts beyond the
   * bound is ruled out having read a fraction of its vector. This is the vector-approximation
   * file's scheme (Weber, Schek and Blott, VLDB 1998) with the leading PCA dimensions as the
   * approximation.
   */
  float squaredDistance(float[] query, float bound) throws IOException {
    if (prefixes != null && bound != Float.POSITIVE_INFINITY && prefixes.advanceExact(docID())) {
      BytesRef prefix = prefixes.binaryValue();
      int length = Math.min(prefix.length / Float.BYTES, dimension);
      float lowerBound =
          SquaredDistance.squaredDistanceBounded(query, length, prefix.bytes, prefix.offset, bound);
      if (lowerBound > bound) {
        return lowerBound;
      }
    }
    BytesRef bytes = vectorBytes();
    return SquaredDistance.squaredDistanceBounded(query, bytes.bytes, bytes.offset, bound);
  }

  /** The current document's vector; it must have one. */
  float[] vector() throws IOException {
    BytesRef bytes = vectorBytes();
    return VectorFormat.parse(
        ByteBuffer.wrap(bytes.bytes, bytes.offset, bytes.length), field, dimension);
  }

  private BytesRef vectorBytes() throws IOException {
    BytesRef bytes = values.binaryValue();
    if (bytes.length != dimension * Float.BYTES) {
      throw new IllegalStateException(
          "field "
              + field
              + ": document "
              + values.docID()
              + " of this segment holds "
              + bytes.length
              + " bytes but dimension "
              + dimension
              + " needs "
              + dimension * Float.BYTES
              + "; was the schema's dimension changed without reindexing?");
    }
    return bytes;
  }
}
