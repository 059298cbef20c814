package io.lookalike.solr;

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
 *   <li>{@code f.sketch1}, {@code f.sketch2}: binary doc values, the {@link VectorSketch} of the
 *       first {@code sketchDimensions} components, in two stages: the first half (rounded up to a
 *       block of {@link VectorSketch#BLOCK}), then the rest, so that the many documents the first
 *       half rules out cost half the reading;
 *   <li>{@code f.cell}: with coarse cells, an indexed term, the number of the vector's nearest cell
 *       ({@link CoarseCells}).
 * </ul>
 *
 * None is a schema field; only {@code f} is ever returned.
 */
final class VectorFieldLayout {

  /** The sketch stages' field suffixes, in order. */
  private static final String[] SKETCH_SUFFIXES = {".sketch1", ".sketch2"};

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

  /** The term field of the coarse cells of {@code field}. */
  static String cellField(String field) {
    return field + CELL_SUFFIX;
  }

  /**
   * The fields of one value: the vector, its sketch stages unless {@code sketchDimensions} is 0,
   * and its cell unless {@code cells} is null.
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
    if (cells != null) {
      fields.add(new StringField(cellField(field), cells.nearestTerm(vector), Field.Store.NO));
    }
    return fields;
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
