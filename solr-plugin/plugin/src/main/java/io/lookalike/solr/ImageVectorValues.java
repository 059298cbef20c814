package io.lookalike.solr;

import com.codahale.metrics.Counter;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import org.apache.lucene.index.BinaryDocValues;
import org.apache.lucene.index.LeafReader;
import org.apache.lucene.search.DocIdSetIterator;
import org.apache.lucene.util.ArrayUtil;
import org.apache.lucene.util.BytesRef;

/**
 * The image vectors of one segment: the field's {@link BinaryDocValues}, read with the dimension
 * the query expects, their {@link VectorSketch sketches} and a summary of what the sketches leave
 * out, where the segment has them (see {@link VectorFieldLayout}).
 *
 * <p>Every reader of stored vectors goes through here so that a stored vector of the wrong length
 * (the schema's {@code dimension} changed without reindexing) fails loudly instead of being read as
 * garbage or out of bounds.
 */
final class ImageVectorValues {

  private final BinaryDocValues values;
  private final SketchStage[] stages; // the segment's sketch stages, in order; may be empty
  private final BinaryDocValues tails; // null where the segment has none

  // The last screen (if any): each kept document's first-stage components (UNSCREENABLE: it has
  // no usable first stage) and sum. Per document, as a merged segment may hold both layouts.
  private static final int UNSCREENABLE = -1;
  private boolean screened;
  private int[] froms = new int[0];
  private float[] sums = new float[0];
  private final String field;
  private final int dimension;
  private final Counter reads; // whole vectors read (see VectorReads)

  private ImageVectorValues(
      BinaryDocValues values,
      SketchStage[] stages,
      BinaryDocValues tails,
      String field,
      int dimension,
      Counter reads) {
    this.values = values;
    this.stages = stages;
    this.tails = tails;
    this.field = field;
    this.dimension = dimension;
    this.reads = reads;
  }

  /**
   * The segment's vectors, or null when no document of the segment has one; each whole vector read
   * counts in {@code reads}.
   */
  static ImageVectorValues get(LeafReader reader, String field, int dimension, Counter reads)
      throws IOException {
    BinaryDocValues values = reader.getBinaryDocValues(field);
    if (values == null) {
      return null;
    }
    List<SketchStage> stages = new ArrayList<>();
    for (int stage = 0; stage < VectorFieldLayout.sketchStageCount(); stage++) {
      BinaryDocValues sketches =
          reader.getBinaryDocValues(VectorFieldLayout.sketchField(field, stage));
      if (sketches == null) {
        break;
      }
      stages.add(new SketchStage(sketches));
    }
    BinaryDocValues tails = reader.getBinaryDocValues(VectorFieldLayout.tailField(field));
    return new ImageVectorValues(
        values, stages.toArray(new SketchStage[0]), tails, field, dimension, reads);
  }

  /** Whether the segment holds sketches, so that a finite bound can rule documents out cheaply. */
  boolean hasSketches() {
    return stages.length > 0;
  }

  /** Whether the segment holds sketches and tails, which bound dot products from above. */
  boolean hasDotBounds() {
    return stages.length > 0 && tails != null;
  }

  int sketchStageCount() {
    return stages.length;
  }

  /**
   * The sketch of sketch stage {@code stage} of {@code doc} (not before the last document asked
   * about), null when it has none.
   */
  BytesRef sketch(int stage, int doc) throws IOException {
    BinaryDocValues sketches = stages[stage].values;
    return sketches.advanceExact(doc) ? sketches.binaryValue() : null;
  }

  /**
   * The {@link VectorFieldLayout#tail} of the components {@code from} on of the vector of {@code
   * doc} (not before the last document asked about), or null when the segment does not store it: no
   * tail, or one of another first component.
   */
  BytesRef tail(int doc, int from) throws IOException {
    if (tails == null || tails.advanceExact(doc) == false) {
      return null;
    }
    BytesRef tail = tails.binaryValue();
    boolean sameTail =
        tail.length == VectorFieldLayout.TAIL_BYTES
            && VectorFieldLayout.tailFrom(tail.bytes, tail.offset) == from;
    return sameTail ? tail : null;
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
   * <p>With a finite bound, the sketches' lower bound comes first, stage by stage, so a document it
   * puts beyond the bound is ruled out having read a few hundred bytes instead of its whole vector
   * (see {@link VectorSketch}).
   */
  float squaredDistance(float[] query, float bound) throws IOException {
    return squaredDistance(query, bound, 0, 0, 0f);
  }

  /**
   * {@link #squaredDistance(float[], float)} from sketch stage {@code stage} on, which starts at
   * component {@code from}, the earlier stages having added up to {@code sum}.
   */
  private float squaredDistance(float[] query, float bound, int stage, int from, float sum)
      throws IOException {
    if (bound != Float.POSITIVE_INFINITY
        && VectorSketch.rulesOut(sketchSum(query, bound, stage, from, sum), bound)) {
      return Float.POSITIVE_INFINITY;
    }
    BytesRef bytes = vectorBytes();
    return SquaredDistance.squaredDistanceBounded(query, bytes.bytes, bytes.offset, bound);
  }

  /**
   * A lower bound of the current document's squared distance to {@code query} (as {@link
   * SquaredDistance} computes it) from its sketches alone: 0 without any, or some value above
   * {@code limit} once the sketches put it beyond. Reads no vector.
   */
  float sketchLowerBound(float[] query, float limit) throws IOException {
    return VectorSketch.lowerBound(sketchSum(query, limit, 0, 0, 0f));
  }

  /**
   * The sum of the sketches' lower-bound terms of the current document from stage {@code stage} on
   * (which starts at component {@code from}), added to {@code sum}, stopping once it rules out
   * {@code bound}. Sketches reaching beyond the query's dimension (the schema's dimension changed
   * without reindexing) are not used, and the vector's length check reports the mismatch.
   */
  private float sketchSum(float[] query, float bound, int stage, int from, float sum)
      throws IOException {
    int doc = docID();
    for (; stage < stages.length; stage++) {
      SketchStage sketches = stages[stage];
      if (sketches.values.advanceExact(doc) == false) {
        break;
      }
      BytesRef sketch = sketches.values.binaryValue();
      int dimensions = VectorSketch.dimensions(sketch.length);
      if (from + dimensions > dimension) {
        break;
      }
      QueryBlocks blocks = sketches.blocks(query, from, dimensions);
      sum =
          VectorSketch.accumulate(
              VectorSketch.KERNEL, blocks, sketch.bytes, sketch.offset, sum, bound);
      if (VectorSketch.rulesOut(sum, bound)) {
        return sum;
      }
      from += dimensions;
    }
    return sum;
  }

  /**
   * Rules documents out by their first sketch stage, a batch at a time: {@code docs[0..count)}
   * (ascending, each with a vector, none before the sketches' position) become the documents that
   * may be within {@code bound}, and their new count is returned. Call {@link
   * #squaredDistanceScreened} for each of them, in order. A batch skips the per-document overhead
   * of a two-phase iterator, and the first stage's sums carry over to the next stage. A document
   * without a usable first stage (indexed before sketches, or with a sketch beyond the query's
   * dimension) is kept for its whole vector to decide.
   */
  int screen(int[] docs, int count, float[] query, float bound) throws IOException {
    screened = stages.length > 0 && bound != Float.POSITIVE_INFINITY;
    if (screened == false) {
      return count;
    }
    SketchStage first = stages[0];
    sums = ArrayUtil.grow(sums, count);
    froms = ArrayUtil.grow(froms, count);
    int kept = 0;
    for (int i = 0; i < count; i++) {
      BytesRef sketch = first.values.advanceExact(docs[i]) ? first.values.binaryValue() : null;
      int length = sketch == null ? -1 : VectorSketch.dimensions(sketch.length);
      float sum = 0f;
      if (length < 0 || length > dimension) {
        length = UNSCREENABLE;
      } else {
        QueryBlocks blocks = first.blocks(query, 0, length);
        sum =
            VectorSketch.accumulate(
                VectorSketch.KERNEL, blocks, sketch.bytes, sketch.offset, 0f, bound);
        if (VectorSketch.rulesOut(sum, bound)) {
          continue;
        }
      }
      froms[kept] = length;
      sums[kept] = sum;
      docs[kept++] = docs[i];
    }
    return kept;
  }

  /**
   * The distance of the {@code i}-th document kept by the last {@link #screen}, once {@link
   * #advanceExact} moved there; like {@link #squaredDistance(float[], float)}, starting from the
   * screen's first stage.
   */
  float squaredDistanceScreened(int i, float[] query, float bound) throws IOException {
    if (screened == false) {
      return squaredDistance(query, bound);
    }
    return froms[i] == UNSCREENABLE // no first stage to go on from: the whole vector only
        ? squaredDistance(query, bound, stages.length, 0, 0f)
        : squaredDistance(query, bound, 1, froms[i], sums[i]);
  }

  /**
   * The dot product of {@code weights} with the current document's vector, which it must have: see
   * {@link SquaredDistance#dotProduct}.
   */
  float dotProduct(float[] weights) throws IOException {
    BytesRef bytes = vectorBytes();
    return SquaredDistance.dotProduct(weights, bytes.bytes, bytes.offset);
  }

  /** The current document's vector; it must have one. */
  float[] vector() throws IOException {
    BytesRef bytes = vectorBytes();
    return VectorFormat.parse(
        ByteBuffer.wrap(bytes.bytes, bytes.offset, bytes.length), field, dimension);
  }

  private BytesRef vectorBytes() throws IOException {
    reads.inc();
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

  /** One stage's sketches, and the query blocks of the query they were last used with. */
  private static final class SketchStage {
    final BinaryDocValues values;
    private QueryBlocks blocks; // computed once per query, not per document

    SketchStage(BinaryDocValues values) {
      this.values = values;
    }

    QueryBlocks blocks(float[] query, int from, int dimensions) {
      blocks = QueryBlocks.of(blocks, query, from, dimensions);
      return blocks;
    }
  }
}
