package io.lookalike.solr;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import org.apache.lucene.document.BinaryDocValuesField;
import org.apache.lucene.document.Field;
import org.apache.lucene.document.StringField;
import org.apache.lucene.index.IndexableField;
import org.apache.lucene.util.BytesRef;

/**
 * The Lucene fields an {@link ImageVectorField} value becomes, for the writers ({@link
 * ImageVectorField#createFields}) and the readers ({@link ImageVectorValues}, {@link VisualQuery})
 * alike. For a schema field {@code f}:
 *
 * <ul>
 *   <li>{@code f}: binary doc values, the vector's little-endian float32 bytes ({@link
 *       VectorFormat});
 *   <li>{@code f.centredSketch1}, {@code f.centredSketch2}: binary doc values, the {@link
 *       VectorSketch} of the first {@code sketchDimensions} components, in two stages: the first
 *       block of {@link VectorSketch#BLOCK}, then the rest, so that the many documents the first
 *       block rules out cost one block of reading ({@link #sketchStages}). Segments written when
 *       the first stage was the first half (rounded up to a block) are read as they are: a reader
 *       takes each stage's components from its length. The sketches of earlier versions,
 *       quantized around 0 in another layout, were {@code f.sketch1} and {@code f.sketch2}: the
 *       names changed with the layout, so that they are never read as the new one (their segments
 *       are ranked exactly, without pruning, until re-indexed);
 *   <li>{@code f.centredTail}: with a sketch, binary doc values: the components the sketch does not
 *       cover summarized by their mean {@code mu} and the norm of their deviations {@code ||x_t -
 *       mu||}, rounded up, which bound their dot product with any weights ({@link LinearBound}),
 *       after their first component, so that a reader can tell it belongs to the document's sketch:
 *       little-endian {@code [from (int32), mu, norm (float32)]}. Earlier versions kept the
 *       uncentred norm as numeric doc values {@code f.tailNorm}, never read now;
 *   <li>{@code f.cell}: with coarse cells, an indexed term, the number of the vector's nearest cell
 *       ({@link CoarseCells}).
 * </ul>
 *
 * None is a schema field; only {@code f} is ever returned.
 */
final class VectorFieldLayout {

  /**
   * The sketch stages' field suffixes, in order: a new layout of {@link VectorSketch} takes new
   * names, as readers tell sketches apart by name only.
   */
  private static final String[] SKETCH_SUFFIXES = {".centredSketch1", ".centredSketch2"};

  private static final String TAIL_SUFFIX = ".centredTail";

  /** The bytes of a tail: its first component, mean and norm. */
  static final int TAIL_BYTES = 3 * Float.BYTES;

  private static final VarHandle INT_LE =
      MethodHandles.byteArrayViewVarHandle(int[].class, ByteOrder.LITTLE_ENDIAN);

  private static final VarHandle FLOAT_LE =
      MethodHandles.byteArrayViewVarHandle(float[].class, ByteOrder.LITTLE_ENDIAN);

  private static final String CELL_SUFFIX = ".cell";

  private VectorFieldLayout() {}

  /** How many sketch stages a field may have. */
  static int sketchStageCount() {
    return SKETCH_SUFFIXES.length;
  }

  /** The doc-values field of sketch stage {@code stage} (from 0) of {@code field}. */
  static String sketchField(String field, int stage) {
    return field + SKETCH_SUFFIXES[stage];
  }

  /** The doc-values field of the components beyond the sketch of {@code field}. */
  static String tailField(String field) {
    return field + TAIL_SUFFIX;
  }

  /** Every doc-values field a value of {@code field} may have: the vector, sketches, tail. */
  static String[] docValuesFields(String field) {
    String[] fields = new String[SKETCH_SUFFIXES.length + 2];
    fields[0] = field;
    for (int stage = 0; stage < SKETCH_SUFFIXES.length; stage++) {
      fields[stage + 1] = sketchField(field, stage);
    }
    fields[fields.length - 1] = tailField(field);
    return fields;
  }

  /** The term field of the coarse cells of {@code field}. */
  static String cellField(String field) {
    return field + CELL_SUFFIX;
  }

  /**
   * The fields of one value: the vector, its sketch stages and tail unless {@code sketchDimensions}
   * is 0, and its cell unless {@code cells} is null.
   */
  static List<IndexableField> fields(
      String field, float[] vector, int sketchDimensions, CoarseCells cells) {
    List<IndexableField> fields = new ArrayList<>();
    fields.add(new BinaryDocValuesField(field, new BytesRef(VectorFormat.toBytes(vector))));
    int[] stages = sketchStages(sketchDimensions);
    for (int stage = 0; stage + 1 < stages.length; stage++) {
      byte[] sketch = VectorSketch.encode(vector, stages[stage], stages[stage + 1]);
      fields.add(new BinaryDocValuesField(sketchField(field, stage), new BytesRef(sketch)));
    }
    if (sketchDimensions > 0) {
      BytesRef tail = new BytesRef(tail(vector, sketchDimensions));
      fields.add(new BinaryDocValuesField(tailField(field), tail));
    }
    if (cells != null) {
      fields.add(new StringField(cellField(field), cells.nearestTerm(vector), Field.Store.NO));
    }
    return fields;
  }

  /**
   * The tail of {@code vector} from component {@code from} on: its mean {@code mu}, rounded to a
   * float, and {@code ||x_t - mu||} for that float {@code mu}, summed in double, then enlarged by
   * {@code 2^-30} (each {@code x_i - mu} rounds by {@code 2^-53} relative, the sum of up to 16384
   * squares and the root by less than {@code 2^-38}) and rounded up to a float. An empty tail is
   * {@code mu = 0}, norm 0.
   */
  static byte[] tail(float[] vector, int from) {
    double total = 0;
    for (int i = from; i < vector.length; i++) {
      total += vector[i];
    }
    float mean = from == vector.length ? 0f : (float) (total / (vector.length - from));
    double squares = 0;
    for (int i = from; i < vector.length; i++) {
      double deviation = (double) vector[i] - mean;
      squares += deviation * deviation;
    }
    byte[] tail = new byte[TAIL_BYTES];
    INT_LE.set(tail, 0, from);
    FLOAT_LE.set(tail, Float.BYTES, mean);
    FLOAT_LE.set(tail, 2 * Float.BYTES, Math.nextUp((float) (Math.sqrt(squares) * (1 + 0x1p-30))));
    return tail;
  }

  /** The first component of the tail at {@code offset}. */
  static int tailFrom(byte[] bytes, int offset) {
    return (int) INT_LE.get(bytes, offset);
  }

  /** The mean {@code mu} of the tail at {@code offset}. */
  static float tailMean(byte[] bytes, int offset) {
    return (float) FLOAT_LE.get(bytes, offset + Float.BYTES);
  }

  /** The norm {@code ||x_t - mu||}, rounded up, of the tail at {@code offset}. */
  static float tailNorm(byte[] bytes, int offset) {
    return (float) FLOAT_LE.get(bytes, offset + 2 * Float.BYTES);
  }

  /**
   * Where the sketch stages of {@code sketchDimensions} components start and end: {@code {0, BLOCK,
   * sketchDimensions}}, or {@code {0, sketchDimensions}} when one block holds them all, or {@code
   * {0}} without a sketch.
   *
   * <p>The first stage is one block because an unfiltered top-k reads it for every document, and
   * its first block rules out nearly all of them ({@link VectorSketch#accumulate} stops there): a
   * first stage of two blocks would stream and copy twice the bytes per document for arithmetic
   * that is never done.
   */
  static int[] sketchStages(int sketchDimensions) {
    if (sketchDimensions == 0) {
      return new int[] {0};
    }
    return sketchDimensions <= VectorSketch.BLOCK
        ? new int[] {0, sketchDimensions}
        : new int[] {0, VectorSketch.BLOCK, sketchDimensions};
  }
}
