package io.lookalike.solr;

import java.util.ArrayList;
import java.util.List;
import org.apache.lucene.document.BinaryDocValuesField;
import org.apache.lucene.document.Field;
import org.apache.lucene.document.NumericDocValuesField;
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
 *   <li>{@code f.sketch1}, {@code f.sketch2}: binary doc values, the {@link VectorSketch} of the
 *       first {@code sketchDimensions} components, in two stages: the first half (rounded up to a
 *       block of {@link VectorSketch#BLOCK}), then the rest, so that the many documents the first
 *       half rules out cost half the reading;
 *   <li>{@code f.tailNorm}: with a sketch, numeric doc values: the norm of the components the
 *       sketch does not cover, rounded up, which bounds their dot product with any weights ({@link
 *       LinearBound}); with its first component, so that a reader can tell it belongs to the
 *       document's sketch: {@code (long) from << 32 | floatToRawIntBits(norm)}. Documents indexed
 *       before it existed have none, and are only ranked exactly;
 *   <li>{@code f.cell}: with coarse cells, an indexed term, the number of the vector's nearest cell
 *       ({@link CoarseCells}).
 * </ul>
 *
 * None is a schema field; only {@code f} is ever returned.
 */
final class VectorFieldLayout {

  /** The sketch stages' field suffixes, in order. */
  private static final String[] SKETCH_SUFFIXES = {".sketch1", ".sketch2"};

  private static final String TAIL_NORM_SUFFIX = ".tailNorm";

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

  /** The doc-values field of the norms of the components beyond the sketch of {@code field}. */
  static String tailNormField(String field) {
    return field + TAIL_NORM_SUFFIX;
  }

  /** Every doc-values field a value of {@code field} may have: the vector, sketches, tail norm. */
  static String[] docValuesFields(String field) {
    String[] fields = new String[SKETCH_SUFFIXES.length + 2];
    fields[0] = field;
    for (int stage = 0; stage < SKETCH_SUFFIXES.length; stage++) {
      fields[stage + 1] = sketchField(field, stage);
    }
    fields[fields.length - 1] = tailNormField(field);
    return fields;
  }

  /** The term field of the coarse cells of {@code field}. */
  static String cellField(String field) {
    return field + CELL_SUFFIX;
  }

  /**
   * The fields of one value: the vector, its sketch stages and tail norm unless {@code
   * sketchDimensions} is 0, and its cell unless {@code cells} is null.
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
      long tail = tailNorm(sketchDimensions, norm(vector, sketchDimensions));
      fields.add(new NumericDocValuesField(tailNormField(field), tail));
    }
    if (cells != null) {
      fields.add(new StringField(cellField(field), cells.nearestTerm(vector), Field.Store.NO));
    }
    return fields;
  }

  /**
   * The norm of the components {@code from} on, rounded up: summed in double precision, then the
   * float at or above it (the double's error, below 2^-40 relative, is far below a float's ulp).
   */
  static float norm(float[] vector, int from) {
    return Math.nextUp((float) LinearBound.norm(vector, from, vector.length));
  }

  /** A tail norm value: the norm of the components {@code from} on, and {@code from}. */
  static long tailNorm(int from, float norm) {
    return (long) from << 32 | (Float.floatToRawIntBits(norm) & 0xFFFFFFFFL);
  }

  /** The first component of a tail norm value. */
  static int tailFrom(long tailNorm) {
    return (int) (tailNorm >>> 32);
  }

  /** The norm of a tail norm value. */
  static float tailNormOf(long tailNorm) {
    return Float.intBitsToFloat((int) tailNorm);
  }

  /**
   * Where the sketch stages of {@code sketchDimensions} components start and end: {@code {0, first,
   * sketchDimensions}}, or {@code {0, sketchDimensions}} when one block holds them all, or {@code
   * {0}} without a sketch.
   */
  static int[] sketchStages(int sketchDimensions) {
    int half = (sketchDimensions + 1) / 2;
    int first = (half + VectorSketch.BLOCK - 1) / VectorSketch.BLOCK * VectorSketch.BLOCK;
    if (sketchDimensions == 0) {
      return new int[] {0};
    }
    return first >= sketchDimensions
        ? new int[] {0, sketchDimensions}
        : new int[] {0, first, sketchDimensions};
  }
}
