package io.lookalike.solr;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import org.apache.lucene.index.LeafReaderContext;
import org.apache.lucene.index.PostingsEnum;
import org.apache.lucene.index.Terms;
import org.apache.lucene.index.TermsEnum;
import org.apache.lucene.search.DocIdSetIterator;
import org.apache.lucene.search.Query;
import org.apache.lucene.util.Bits;
import org.apache.lucene.util.BytesRef;
import org.apache.lucene.util.BytesRefBuilder;
import org.apache.lucene.util.CharsRefBuilder;
import org.apache.solr.common.SolrException;
import org.apache.solr.common.SolrException.ErrorCode;
import org.apache.solr.common.params.CommonParams;
import org.apache.solr.common.params.ModifiableSolrParams;
import org.apache.solr.common.params.SolrParams;
import org.apache.solr.common.util.StrUtils;
import org.apache.solr.request.SolrQueryRequest;
import org.apache.solr.schema.SchemaField;
import org.apache.solr.search.QParser;
import org.apache.solr.search.QueryParsing;

/**
 * Parses {@code {!visual}} into a {@link VisualQuery}. The syntax follows Solr's {@code {!knn}}:
 *
 * <pre>
 * {!visual f=image_vector}[0.12, -0.5, ...]        the vector as a JSON array
 * {!visual f=image_vector v=$qv}                   the vector (array or base64) in parameter qv
 * {!visual f=image_vector id=SKU123}               the vector of an indexed document
 * {!visual f=image_vector like=A,B,C unlike=D}     closer to A, B and C, away from D
 * {!visual f=image_vector maxDist=12.5 model=3fa2}[...]
 * </pre>
 *
 * <ul>
 *   <li>{@code f}: the {@link ImageVectorField} to search (required);
 *   <li>{@code v} (or the text after the local params): the query vector; it must have the field's
 *       dimension. Exactly one of {@code v}, {@code id} and {@code like} is given;
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
 *   <li>{@code model}: the id of the model that made the query vector; the query is refused (409) if
 *       this index holds live documents of another model, whose distances would be meaningless;
 *   <li>{@code probe}: opt-in approximate search, only in this many coarse cells nearest to the
 *       query (the field type must declare {@code cells}, see {@link CoarseCells}).
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
      float[] target = target(local, field, new DocumentVectors(req, field, type.getDimension()));
      String model = local.get(MODEL);
      if (model != null && model.isEmpty()) {
        throw BadRequest.of(MODEL, "expected the version of the PCA model that made the query vector, got ''");
      }
      VisualScore score = VisualScore.parse(local.get(VisualScore.PARAM));
      BytesRef[] cells = probedCells(type, target, local.get(PROBE));
      if (model != null) { // last: a request is first checked itself (400), then against the index (409)
        checkModel(model);
      }
      VisualQuery query = new VisualQuery(field, target, maxDist, score, cells);
      // not cached: a post filter where Solr uses it as one (an fq), after the cheaper filters
      boolean cached = CommonParams.FALSE.equals(local.get(CommonParams.CACHE)) == false;
      return cached || cells != null ? query : new VisualPostFilter(query);
    } catch (IOException e) {
      throw new SolrException(ErrorCode.SERVER_ERROR, e);
    }
  }

  /**
   * The query point: the vector given, or one made from documents, which the node that received the
   * request resolves for all shards (see {@link SharedQueryPoint}).
   */
  private float[] target(SolrParams local, String field, DocumentVectors documents)
      throws IOException {
    String id = local.get(ID);
    String like = local.get(LIKE);
    boolean hasVector = qstr != null && qstr.isBlank() == false;
    int sources = (hasVector ? 1 : 0) + (id != null ? 1 : 0) + (like != null ? 1 : 0);
    if (sources != 1) {
      throw BadRequest.of(
          QueryParsing.V + ", " + ID + ", " + LIKE,
          "give exactly one of a query vector (v, or the text after the local params), the id of"
              + " a document whose vector to use, or like=ids of liked documents; got "
              + (sources == 0 ? "none" : sources));
    }
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

  /**
   * Refuses a query vector made by another model than the index's vectors: distances between
   * vectors of two PCA models are meaningless, and would silently return garbage rankings. Only
   * live documents count, so the check passes as soon as a re-embedding has replaced them all.
   */
  private void checkModel(String model) throws IOException {
    SchemaField version = req.getSchema().getFieldOrNull(versionField);
    if (version == null || version.indexed() == false) {
      throw new SolrException(
          ErrorCode.SERVER_ERROR,
          MODEL
              + ": cannot check, the visual query parser's versionField '"
              + versionField
              + "' is not an indexed field of the schema");
    }
    BytesRefBuilder expected = new BytesRefBuilder();
    version.getType().readableToIndexed(model, expected);
    for (LeafReaderContext leaf : req.getSearcher().getTopReaderContext().leaves()) {
      Terms terms = leaf.reader().terms(versionField);
      if (terms == null) {
        continue;
      }
      Bits liveDocs = leaf.reader().getLiveDocs();
      TermsEnum termsEnum = terms.iterator();
      for (BytesRef term = termsEnum.next(); term != null; term = termsEnum.next()) {
        if (term.bytesEquals(expected.get()) == false
            && hasLiveDoc(termsEnum.postings(null, PostingsEnum.NONE), liveDocs)) {
          CharsRefBuilder other = new CharsRefBuilder();
          version.getType().indexedToReadable(term, other);
          // 409: the request is fine, the index's state (mid re-index, or a newer model) is not.
          throw new SolrException(
              ErrorCode.CONFLICT,
              MODEL
                  + ": query made with PCA model '"
                  + model
                  + "' but the index holds vectors of model '"
                  + other
                  + "'; re-embed the query with the index's model, or finish its re-index");
        }
      }
    }
  }

  private static boolean hasLiveDoc(PostingsEnum postings, Bits liveDocs) throws IOException {
    for (int doc = postings.nextDoc();
        doc != DocIdSetIterator.NO_MORE_DOCS;
        doc = postings.nextDoc()) {
      if (liveDocs == null || liveDocs.get(doc)) {
        return true;
      }
    }
    return false;
  }

  /** The cell terms {@code probe=N} limits the query to, or null for the exact search. */
  private static BytesRef[] probedCells(ImageVectorField type, float[] target, String probe) {
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
    return cells.nearestTerms(target, Math.min(count, cells.size()));
  }

}
