package io.lookalike.solr;

import org.apache.lucene.queries.function.ValueSource;
import org.apache.solr.search.FunctionQParser;
import org.apache.solr.search.SyntaxError;
import org.apache.solr.search.ValueSourceParser;

/**
 * Registers {@code sqdist(field, vector)}: {@code sqdist(image_vector, $qv)}, {@code
 * sqdist(image_vector, "[0.1, 0.2, ...]")} or {@code sqdist(image_vector, "<base64>")}; see {@link
 * SquaredDistanceValueSource}.
 *
 * <pre>
 * &lt;valueSourceParser name="sqdist" class="io.lookalike.solr.SqDistValueSourceParser"/&gt;
 * </pre>
 */
public class SqDistValueSourceParser extends ValueSourceParser {

  static final String NAME = "sqdist";

  @Override
  public ValueSource parse(FunctionQParser fp) throws SyntaxError {
    String field = fp.parseArg();
    ImageVectorField type = ImageVectorField.checkedType(fp.getReq().getSchema(), field, NAME);
    String vector = fp.parseArg();
    if (vector == null) {
      throw BadRequest.of(NAME, "missing the vector, e.g. sqdist(" + field + ", $qv) with qv=[0.1, ...]");
    }
    return new SquaredDistanceValueSource(
        field, VectorFormat.parse(vector, NAME, type.getDimension()));
  }
}
