package io.lookalike.solr;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import org.apache.lucene.search.Query;
import org.apache.solr.common.SolrException;
import org.apache.solr.common.SolrException.ErrorCode;
import org.apache.solr.common.params.CommonParams;
import org.apache.solr.common.params.ModifiableSolrParams;
import org.apache.solr.common.params.SolrParams;
import org.apache.solr.common.util.StrUtils;
import org.apache.solr.request.SolrQueryRequest;
import org.apache.solr.search.QParser;
import org.apache.solr.search.QueryParsing;

/**
 * Parses {@code {!visual}} into a {@link VisualQuery}, or a {@link LinearVisualQuery} with {@code
 * weights}. The syntax follows Solr's {@code {!knn}}:
 *
 * <pre>
 * {!visual f=image_vector}[0.12, -0.5, ...]        the vector as a JSON array
 * {!visual f=image_vector v=$qv}                   the vector (array or base64) in parameter qv
 * {!visual f=image_vector id=SKU123}               the vector of an indexed document
 * {!visual f=image_vector like=A,B,C unlike=D}     closer to A, B and C, away from D
 * {!visual f=image_vector maxDist=12.5 model=3fa2}[...]
 * {!visual f=image_vector weights=$w bias=-0.31 model=3fa2}   highest w.x + b first
 * </pre>
 *
 * <ul>
 *   <li>{@code f}: the {@link ImageVectorField} to search (required);
 *   <li>{@code v} (or the text after the local params): the query vector; it must have the field's
 *       dimension. Exactly one of {@code v}, {@code id}, {@code like} and {@code weights} is given;
 *   <li>{@code id}: use the committed vector of the document with this unique key (see {@link
 *       DocumentVectors}; in SolrCloud the receiving node resolves it for every shard, see {@link
 *       SharedQueryPoint});
 *   <li>{@code like}: comma-separated ids of liked documents: their centroid is the query;
 *   <li>{@code unlike}: comma-separated ids of disliked documents: the query moves away from their
 *       centroid by {@code unlikeWeight} (default 0.5) times the distance between the two centroids
 *       (see {@link QueryVectors});
 *   <li>{@code maxDist}: only match documents whose squared distance is at most this;
 *   <li>{@code score}: {@code rank} (the default, an exact order key of the distance) or {@code
 *       similarity} ({@code boost / (1 + d)}, for hybrid sums), see {@link VisualScore};
 *   <li>{@code weights}: instead of a query point, rank by the linear function {@code w.x + b} of
 *       the document's vector {@code x}, highest first (a classifier's decision function): {@code
 *       w} in the same formats and bounds as a query vector, of the field's dimension; the score is
 *       an order key of the value, see {@link LinearScore}. {@code unlike}, {@code unlikeWeight},
 *       {@code maxDist}, {@code probe} and {@code score=similarity} do not apply to it;
 *   <li>{@code bias}: {@code b}, with {@code weights} only: a finite number of magnitude at most
 *       2^126, default 0;
 *   <li>{@code model}: the id of the model that made the query vector (or the weights); the query
 *       is refused (409) if this index holds live documents of another model, whose distances
 *       would be meaningless;
 *   <li>{@code probe}: opt-in approximate search, only in this many coarse cells nearest to the
 *       query (the field type must declare {@code cells}, see {@link CoarseCells}), more under a
 *       narrower filter (see {@link CellProbe}).
 * </ul>
 *
 * Bad input is a {@code 400} naming the parameter.
 */
public class VisualQParser extends QParser {

  static final String ID = "id";
  static final String LIKE = "like";
  static final String UNLIKE = "unlike";
  static final String UNLIKE_WEIGHT = "unlikeWeight";
  static final String MAX_DIST = "maxDist";
  static final String MODEL = "model";
  static final String PROBE = "probe";
  static final String WEIGHTS = "weights";
  static final String BIAS = "bias";
  static final float DEFAULT_UNLIKE_WEIGHT = 0.5f;

  /** Examples per query: enough for any shopper session, few enough to look up per request. */
  static final int MAX_EXAMPLES = 100;

  private final String versionField;

  public VisualQParser(
      String qstr,
      SolrParams localParams,
      SolrParams params,
      SolrQueryRequest req,
      String versionField) {
    super(qstr, localParams, params, req);
    this.versionField = versionField;
  }

  @Override
  public Query parse() {
    // not SolrParams.of(), which Solr 9.8 and 9.9 lack
    SolrParams local = localParams == null ? new ModifiableSolrParams() : localParams;
    String field = local.get(QueryParsing.F);
    ImageVectorField type = ImageVectorField.checkedType(req.getSchema(), field, QueryParsing.F);
    float maxDist =
        nonNegative(local.get(MAX_DIST), MAX_DIST, "squared distance", Float.POSITIVE_INFINITY);
    try {
      checkOneSource(local);
      AbstractVisualQuery query =
          local.get(WEIGHTS) != null
              ? linear(local, field, type)
              : distance(local, field, type, maxDist);
      String model = local.get(MODEL);
      if (model != null && model.isEmpty()) {
        throw BadRequest.of(MODEL, "expected the version of the PCA model that made the query vector, got ''");
      }
      if (model != null) { // last: a request is first checked itself (400), then against the index (409)
        ModelCheck.check(req, versionField, model);
      }
      // not cached: a post filter where Solr uses it as one (an fq), after the cheaper filters
      boolean cached = CommonParams.FALSE.equals(local.get(CommonParams.CACHE)) == false;
      return cached || query.probe() != null ? query : new VisualPostFilter(query);
    } catch (IOException e) {
      throw new SolrException(ErrorCode.SERVER_ERROR, e);
    }
  }

  /** Exactly one of a vector, {@code id}, {@code like} and {@code weights}. */
  private void checkOneSource(SolrParams local) {
    int sources = (hasVector() ? 1 : 0);
    for (String param : new String[] {ID, LIKE, WEIGHTS}) {
      sources += local.get(param) != null ? 1 : 0;
    }
    if (sources != 1) {
      throw BadRequest.of(
          QueryParsing.V + ", " + ID + ", " + LIKE + ", " + WEIGHTS,
          "give exactly one of a query vector (v, or the text after the local params), the id of"
              + " a document whose vector to use, like=ids of liked documents, or weights=the"
              + " weights of a linear function to rank by; got "
              + (sources == 0 ? "none" : sources));
    }
  }

  private boolean hasVector() {
    return qstr != null && qstr.isBlank() == false;
  }

  /** The distance mode: a query point from {@code v}, {@code id} or {@code like}. */
  private VisualQuery distance(
      SolrParams local, String field, ImageVectorField type, float maxDist) throws IOException {
    if (local.get(BIAS) != null) {
      throw BadRequest.of(BIAS, "only applies to weights=, the linear mode");
    }
    float[] target = target(local, field, new DocumentVectors(req, field, type.getDimension()));
    VisualScore score = VisualScore.parse(local.get(VisualScore.PARAM));
    CellProbe probe = probe(type, target, local.get(PROBE));
    return new VisualQuery(field, target, maxDist, score, probe);
  }

  /**
   * The linear mode: {@code weights} and {@code bias}. What only ranks by distance is refused
   * rather than ignored, naming the parameter.
   */
  private static LinearVisualQuery linear(SolrParams local, String field, ImageVectorField type) {
    for (String param : new String[] {UNLIKE, UNLIKE_WEIGHT, MAX_DIST, PROBE}) {
      if (local.get(param) != null) {
        throw BadRequest.of(
            param,
            "does not apply to weights=, the linear mode, which ranks every document with a"
                + " vector by w.x + b");
      }
    }
    if (VisualScore.parse(local.get(VisualScore.PARAM)) != VisualScore.RANK) {
      throw BadRequest.of(
          VisualScore.PARAM,
          "the linear mode's score is the order key of w.x + b (score=rank); similarity is a"
              + " function of a distance");
    }
    float[] weights = VectorFormat.parse(local.get(WEIGHTS), WEIGHTS, type.getDimension());
    return new LinearVisualQuery(field, weights, bias(local.get(BIAS)));
  }

  private static float bias(String value) {
    if (value == null) {
      return 0f;
    }
    try {
      float bias = Float.parseFloat(value.strip());
      if (Float.isFinite(bias) && Math.abs(bias) <= LinearVisualQuery.MAX_BIAS) {
        return bias;
      }
    } catch (NumberFormatException e) {
      // reported below
    }
    throw BadRequest.of(
        BIAS,
        "expected a finite number of magnitude at most "
            + LinearVisualQuery.MAX_BIAS
            + " (2^126), got '"
            + value
            + "'");
  }

  /**
   * The query point: the vector given, or one made from documents, which the node that received the
   * request resolves for all shards (see {@link SharedQueryPoint}).
   */
  private float[] target(SolrParams local, String field, DocumentVectors documents)
      throws IOException {
    String id = local.get(ID);
    String like = local.get(LIKE);
    boolean hasVector = hasVector();
    String unlike = local.get(UNLIKE);
    if (hasVector && unlike == null) {
      return VectorFormat.parse(qstr, QueryParsing.V, documents.dimension());
    }
    String shared =
        SharedQueryPoint.param(
            field, hasVector ? qstr : null, id, like, unlike, local.get(UNLIKE_WEIGHT));
    float[] point = SharedQueryPoint.resolved(req, shared, documents.dimension());
    if (point == null) {
      point = fromDocuments(local, hasVector, documents);
      SharedQueryPoint.share(req, shared, point);
    }
    return point;
  }

  /** The query point of {@code id}, {@code like} and {@code unlike}, from the documents. */
  private float[] fromDocuments(SolrParams local, boolean hasVector, DocumentVectors documents)
      throws IOException {
    String id = local.get(ID);
    float[] positive;
    if (hasVector) {
      positive = VectorFormat.parse(qstr, QueryParsing.V, documents.dimension());
    } else if (id != null) {
      positive = documents.get(List.of(id.strip()), ID).get(0);
    } else {
      positive = QueryVectors.mean(documents.get(ids(local.get(LIKE), LIKE), LIKE));
    }
    String unlike = local.get(UNLIKE);
    if (unlike == null) {
      return positive;
    }
    float weight =
        nonNegative(local.get(UNLIKE_WEIGHT), UNLIKE_WEIGHT, "weight", DEFAULT_UNLIKE_WEIGHT);
    float[] negative = QueryVectors.mean(documents.get(ids(unlike, UNLIKE), UNLIKE));
    float[] target = QueryVectors.awayFrom(positive, negative, weight);
    int beyond = VectorFormat.beyondSquaredNorm(target);
    if (beyond >= 0) {
      throw BadRequest.of(
          UNLIKE_WEIGHT,
          "weight '"
              + weight
              + "' moves the query point out of range (its squared norm exceeds 2^124 at component "
              + beyond
              + "); use a smaller weight");
    }
    return target;
  }

  /** Comma-separated ids (a backslash escapes a comma inside an id, as in /get's ids). */
  private static List<String> ids(String value, String param) {
    List<String> ids = new ArrayList<>();
    for (String id : StrUtils.splitSmart(value, ",", true)) {
      if (id.isBlank() == false) {
        ids.add(id.strip());
      }
    }
    if (ids.isEmpty() || ids.size() > MAX_EXAMPLES) {
      throw BadRequest.of(
          param, "expected 1 to " + MAX_EXAMPLES + " comma-separated ids, got " + ids.size());
    }
    return ids;
  }

  private static float nonNegative(String value, String param, String what, float defaultValue) {
    if (value == null) {
      return defaultValue;
    }
    try {
      float number = Float.parseFloat(value.strip());
      if (number >= 0 && Float.isFinite(number)) {
        return number;
      }
    } catch (NumberFormatException e) {
      // reported below
    }
    throw BadRequest.of(param, "expected a finite " + what + " >= 0, got '" + value + "'");
  }

  /** The cells {@code probe=N} limits the query to, or null for the exact search. */
  private static CellProbe probe(ImageVectorField type, float[] target, String probe) {
    if (probe == null) {
      return null;
    }
    CoarseCells cells = type.getCells();
    if (cells == null) {
      throw BadRequest.of(
          PROBE, "the field's type declares no coarse cells (attribute cells); search exactly");
    }
    int count = 0;
    try {
      count = Integer.parseInt(probe.strip());
    } catch (NumberFormatException e) {
      // reported below
    }
    if (count < 1) {
      throw BadRequest.of(PROBE, "expected a number of cells >= 1, got '" + probe + "'");
    }
    return cells.probe(target, count);
  }

}
