package io.lookalike.solr;

import com.codahale.metrics.Counter;
import java.io.IOException;
import java.util.Arrays;
import java.util.Map;
import org.apache.lucene.index.LeafReader;
import org.apache.lucene.index.LeafReaderContext;
import org.apache.lucene.queries.function.FunctionValues;
import org.apache.lucene.queries.function.ValueSource;
import org.apache.lucene.queries.function.docvalues.FloatDocValues;
import org.apache.lucene.search.IndexSearcher;

/**
 * {@code sqdist(field, vector)}: the squared Euclidean distance from each document's vector to a
 * fixed vector, as computed by {@link VisualQuery} (same kernel, same float result), for {@code
 * fl}, {@code sort} and boosts.
 *
 * <p>A document without a vector does not {@linkplain FunctionValues#exists exist} and has the
 * value {@link Float#MAX_VALUE}, so that sorting by ascending distance puts it last.
 */
public final class SquaredDistanceValueSource extends ValueSource {

  private final String field;
  private final float[] target;

  public SquaredDistanceValueSource(String field, float[] target) {
    this.field = field;
    this.target = target.clone();
  }

  @Override
  public FunctionValues getValues(Map<Object, Object> context, LeafReaderContext readerContext)
      throws IOException {
    LeafReader reader = readerContext.reader();
    Object searcher = context.get("searcher"); // Solr's, when Solr asks
    Counter reads = VectorReads.of(searcher instanceof IndexSearcher s ? s : null);
    return new FloatDocValues(this) {
      private ImageVectorValues values = vectors(reader, reads);
      private int lastDoc = -1;
      private boolean exists;
      private float distance;

      @Override
      public float floatVal(int doc) throws IOException {
        advance(doc);
        return distance;
      }

      @Override
      public boolean exists(int doc) throws IOException {
        advance(doc);
        return exists;
      }

      /** Doc values only go forward: a caller going back (e.g. fl after sort) gets a reopen. */
      private void advance(int doc) throws IOException {
        if (doc == lastDoc) {
          return;
        }
        if (values != null && doc < values.docID()) {
          values = vectors(reader, reads);
        }
        lastDoc = doc;
        exists = values != null && values.advanceExact(doc);
        distance =
            exists ? values.squaredDistance(target, Float.POSITIVE_INFINITY) : Float.MAX_VALUE;
      }
    };
  }

  private ImageVectorValues vectors(LeafReader reader, Counter reads) throws IOException {
    return ImageVectorValues.get(reader, field, target.length, reads);
  }

  @Override
  public boolean equals(Object other) {
    if (other == null || other.getClass() != getClass()) {
      return false;
    }
    SquaredDistanceValueSource that = (SquaredDistanceValueSource) other;
    return field.equals(that.field) && Arrays.equals(target, that.target);
  }

  @Override
  public int hashCode() {
    return 31 * field.hashCode() + Arrays.hashCode(target);
  }

  @Override
  public String description() {
    return "sqdist("
        + field
        + ", dim="
        + target.length
        + ", "
        + VectorFormat.abbreviate(target)
        + ")";
  }
}
