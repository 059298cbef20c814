package io.lookalike.solr;

import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.apache.lucene.index.IndexableField;
import org.apache.lucene.queries.function.ValueSource;
import org.apache.lucene.search.FieldExistsQuery;
import org.apache.lucene.search.Query;
import org.apache.lucene.search.SortField;
import org.apache.lucene.util.BytesRef;
import org.apache.solr.common.SolrException;
import org.apache.solr.common.SolrException.ErrorCode;
import org.apache.solr.response.TextResponseWriter;
import org.apache.solr.schema.FieldType;
import org.apache.solr.schema.IndexSchema;
import org.apache.solr.schema.SchemaField;
import org.apache.solr.search.QParser;
import org.apache.solr.uninverting.UninvertingReader;

/**
 * A float32 image vector of a fixed {@code dimension}, searched with {@code {!visual}} and {@code
 * sqdist()}.
 *
 * <p>The vector is kept only as {@link BinaryDocValuesField} bytes ({@code dimension * 4},
 * little-endian float32, see {@link VectorFormat}): visual search reads vectors document by
 * document, which is exactly what doc values are for, and no HNSW graph or stored copy is built. So
 * fields of this type must be {@code indexed="false" stored="false" docValues="true"} (the defaults
 * of the type) and single-valued; {@code useDocValuesAsStored} makes {@code fl} and {@code /get}
 * return the vector as base64.
 *
 * <pre>
 * &lt;fieldType name="image_vector" class="io.lookalike.solr.ImageVectorField"
 *            dimension="1024"/&gt;
 * &lt;field name="image_vector" type="image_vector" useDocValuesAsStored="true"/&gt;
 * </pre>
 */
public class ImageVectorField extends FieldType {

  static final String DIMENSION = "dimension";
  static final String SKETCH_DIMENSIONS = "sketchDimensions";
  static final String CELLS = "cells";
  static final int MAX_DIMENSION = 16384;

  /**
   * How many leading dimensions the sketch covers when the schema does not say, as a fraction of
   * the dimension: a half, for vectors of at least {@link #MIN_DIMENSION_FOR_SKETCH} dimensions. On
   * PCA-ordered 1024-d vectors with the real features' spectrum (bench/, 300,000 documents), an
   * unfiltered exact top-10 read 1,320 whole vectors with the first 256 components sketched, 359
   * with 512 and 268 with 768; 512 was the fastest of the three in 6 of 7 query types (3% to 15%
   * ahead of 256), as each further stage of 128 costs 148 bytes to the documents that reach it.
   */
  static final int DEFAULT_SKETCH_DIVISOR = 2;

  static final int MIN_DIMENSION_FOR_SKETCH = 256;

  private int dimension;
  private int sketchDimensions;
  private CoarseCells cells; // null: no approximate mode

  public int getDimension() {
    return dimension;
  }

  /** How many leading dimensions the {@link VectorSketch} of each vector covers; 0 for none. */
  public int getSketchDimensions() {
    return sketchDimensions;
  }

  /** The coarse cells of the approximate mode, or null when the type declares none. */
  CoarseCells getCells() {
    return cells;
  }

  @Override
  protected void init(IndexSchema schema, Map<String, String> args) {
    dimension = parseDimension(args.remove(DIMENSION));
    int defaultSketch =
        dimension >= MIN_DIMENSION_FOR_SKETCH ? dimension / DEFAULT_SKETCH_DIVISOR : 0;
    sketchDimensions = parseSketchDimensions(args.remove(SKETCH_DIMENSIONS), defaultSketch);
    String cellsFile = args.remove(CELLS);
    if (cellsFile != null) {
      cells = readCells(schema, cellsFile.strip());
    }
    // Default to what fits a vector kept in doc values only. What the type declares explicitly is
    // kept, so that checkSchemaField reports it, naming the field.
    properties &= ~((INDEXED | STORED | MULTIVALUED | UNINVERTIBLE) & ~trueProperties);
    properties |= DOC_VALUES & ~falseProperties;
    super.init(schema, args);
  }

  private int parseDimension(String value) {
    return intAttribute(DIMENSION, value, 1, MAX_DIMENSION, "");
  }

  private int parseSketchDimensions(String value, int defaultValue) {
    return value == null
        ? defaultValue
        : intAttribute(SKETCH_DIMENSIONS, value, 0, dimension, " (0: no sketch)");
  }

  /** An integer attribute of the field type in {@code min..max}, or a schema error naming it. */
  private int intAttribute(String name, String value, int min, int max, String note) {
    try {
      int parsed = Integer.parseInt(value == null ? "" : value.strip());
      if (parsed >= min && parsed <= max) {
        return parsed;
      }
    } catch (NumberFormatException e) {
      // reported below
    }
    throw new SolrException(
        ErrorCode.SERVER_ERROR,
        String.format(
            Locale.ROOT,
            "fieldType %s: attribute %s must be an integer in %d..%d%s, got %s",
            typeName,
            name,
            min,
            max,
            note,
            value == null ? "none" : "'" + value + "'"));
  }

  private CoarseCells readCells(IndexSchema schema, String file) {
    try (InputStream in = schema.getResourceLoader().openResource(file)) {
      return CoarseCells.read(in, file, dimension);
    } catch (IOException e) {
      throw new SolrException(
          ErrorCode.SERVER_ERROR,
          "fieldType "
              + typeName
              + ": attribute "
              + CELLS
              + ": cannot read '"
              + file
              + "': "
              + e.getMessage(),
          e);
    }
  }

  @Override
  public void checkSchemaField(SchemaField field) {
    super.checkSchemaField(field);
    List<String> wrong = new ArrayList<>();
    if (field.indexed()) wrong.add("indexed=\"true\"");
    if (field.stored()) wrong.add("stored=\"true\"");
    if (field.multiValued()) wrong.add("multiValued=\"true\"");
    if (field.hasDocValues() == false) wrong.add("docValues=\"false\"");
    if (wrong.isEmpty() == false) {
      throw new SolrException(
          ErrorCode.SERVER_ERROR,
          "field "
              + field.getName()
              + ": "
              + String.join(", ", wrong)
              + " is not supported; an ImageVectorField is a single vector kept in doc values only"
              + " (indexed=\"false\" stored=\"false\" docValues=\"true\")");
    }
  }

  @Override
  protected void checkSupportsDocValues() {
    // doc values are the only place the vector is kept
  }

  /**
   * Resolves the field that a query or function names, checking it is an image vector field.
   *
   * @param param the parameter that named the field, for error messages
   * @throws SolrException with {@code BAD_REQUEST} if there is no such field or it is not of this
   *     type
   */
  public static ImageVectorField checkedType(IndexSchema schema, String fieldName, String param) {
    if (fieldName == null || fieldName.isBlank()) {
      throw BadRequest.of(param, "missing; name an ImageVectorField, e.g. image_vector");
    }
    SchemaField field = schema.getFieldOrNull(fieldName);
    if (field == null) {
      throw BadRequest.of(param, "no such field '" + fieldName + "'");
    }
    if (field.getType() instanceof ImageVectorField == false) {
      throw BadRequest.of(
          param,
          "field '"
              + fieldName
              + "' is of type "
              + field.getType().getTypeName()
              + ", not an ImageVectorField");
    }
    return (ImageVectorField) field.getType();
  }

  /** Accepts any single value {@link VectorFormat#parse} does: the vector alone. */
  @Override
  public IndexableField createField(SchemaField field, Object value) {
    float[] vector = VectorFormat.parse(value, field.getName(), dimension);
    return VectorFieldLayout.fields(field.getName(), vector, 0, null).get(0);
  }

  /**
   * The vector and, unless {@code sketchDimensions} is 0, its {@link VectorSketch} and a summary of
   * the rest in doc values; with {@code cells}, the term of its coarse cell: see {@link
   * VectorFieldLayout}. Doc values hand
   * out a document's value whole, so a search that only needs a lower bound to rule a document out
   * reads the short sketch instead of the whole vector: see {@link ImageVectorValues}.
   */
  @Override
  public List<IndexableField> createFields(SchemaField field, Object value) {
    float[] floats = VectorFormat.parse(value, field.getName(), dimension);
    return VectorFieldLayout.fields(field.getName(), floats, sketchDimensions, cells);
  }

  /** Base64, the documented text form: also what {@link #toObject} returns. */
  @Override
  public String toExternal(IndexableField f) {
    BytesRef bytes = f.binaryValue();
    return VectorFormat.toBase64(bytes.bytes, bytes.offset, bytes.length);
  }

  @Override
  public void write(TextResponseWriter writer, String name, IndexableField f) throws IOException {
    writer.writeStr(name, toExternal(f), false);
  }

  /** {@code image_vector:*} and {@code image_vector:[* TO *]}: documents that have a vector. */
  @Override
  public Query getExistenceQuery(QParser parser, SchemaField field) {
    return new FieldExistsQuery(field.getName());
  }

  @Override
  public Query getFieldQuery(QParser parser, SchemaField field, String externalVal) {
    throw unsupported(field, "a term query");
  }

  @Override
  protected Query getSpecializedRangeQuery(
      QParser parser,
      SchemaField field,
      String part1,
      String part2,
      boolean minInclusive,
      boolean maxInclusive) {
    throw unsupported(field, "a range query");
  }

  @Override
  public Query getPrefixQuery(QParser parser, SchemaField field, String termStr) {
    throw unsupported(field, "a prefix query");
  }

  @Override
  public SortField getSortField(SchemaField field, boolean top) {
    throw unsupported(field, "sorting");
  }

  @Override
  public ValueSource getValueSource(SchemaField field, QParser parser) {
    throw unsupported(field, "use as a function");
  }

  @Override
  public UninvertingReader.Type getUninversionType(SchemaField sf) {
    return null;
  }

  private static SolrException unsupported(SchemaField field, String what) {
    return BadRequest.of(
        field.getName(),
        what
            + " is not supported on an image vector; use {!visual f="
            + field.getName()
            + "} or sqdist("
            + field.getName()
            + ", ...)");
  }
}
