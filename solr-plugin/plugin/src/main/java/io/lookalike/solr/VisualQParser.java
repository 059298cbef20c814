package io.lookalike.solr;

import java.io.IOException;
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
import org.apache.solr.common.params.SolrParams;
import org.apache.solr.request.SolrQueryRequest;
import org.apache.solr.schema.SchemaField;
import org.apache.solr.search.QParser;
import org.apache.solr.search.QueryParsing;
import org.apache.solr.search.SolrIndexSearcher;

/**
 * Parses {@code {!visual}} into a {@link VisualQuery}. The syntax follows Solr's {@code {!knn}}:
 *
 * <pre>
 * {!visual f=image_vector}[0.12, -0.5, ...]        the vector as a JSON array
 * {!visual f=image_vector v=$qv}                   the vector (array or base64) in parameter qv
 * {!visual f=image_vector id=SKU123}               the vector of an indexed document
 * {!visual f=image_vector maxDist=12.5 model=3fa2}[...]
 * </pre>
 *
 * <ul>
 *   <li>{@code f}: the {@link ImageVectorField} to search (required);
 *   <li>{@code v} (or the text after the local params): the query vector, exactly one of it and
 *       {@code id}; it must have the field's dimension;
 *   <li>{@code id}: use the vector of the live document with this unique key, read from this core's
 *       searcher;
 *   <li>{@code maxDist}: only match documents whose squared distance is at most this;
 *   <li>{@code model}: the id of the model that made the query vector; the query is refused if this
 *       index holds live documents of another model, whose distances would be meaningless.
 * </ul>
 *
 * Bad input is a {@code 400} naming the parameter.
 */
public class VisualQParser extends QParser {

  static final String ID = "id";
  static final String MAX_DIST = "maxDist";
  static final String MODEL = "model";

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
    SolrParams local = localParams == null ? SolrParams.of() : localParams;
    String field = local.get(QueryParsing.F);
    ImageVectorField type = ImageVectorField.checkedType(req.getSchema(), field, QueryParsing.F);
    float maxDist = parseMaxDist(local.get(MAX_DIST));
    try {
      float[] target = target(field, type.getDimension(), local.get(ID));
      String model = local.get(MODEL);
      if (model != null) {
        checkModel(model);
      }
      return new VisualQuery(field, target, maxDist);
    } catch (IOException e) {
      throw new SolrException(ErrorCode.SERVER_ERROR, e);
    }
  }

  private float[] target(String field, int dimension, String id) throws IOException {
    boolean hasVector = qstr != null && qstr.isBlank() == false;
    boolean hasId = id != null && id.isBlank() == false;
    if (hasVector == hasId) {
      throw badRequest(
          QueryParsing.V + ", " + ID,
          "give either a query vector (v, or the text after the local params) or the id of a"
              + " document whose vector to use, "
              + (hasId ? "not both" : "got neither"));
    }
    return hasId
        ? vectorOf(id, field, dimension)
        : VectorFormat.parse(qstr, QueryParsing.V, dimension);
  }

  private static float parseMaxDist(String value) {
    if (value == null) {
      return Float.POSITIVE_INFINITY;
    }
    try {
      float maxDist = Float.parseFloat(value.strip());
      if (maxDist >= 0 && Float.isFinite(maxDist)) {
        return maxDist;
      }
    } catch (NumberFormatException e) {
      // reported below
    }
    throw badRequest(MAX_DIST, "expected a finite squared distance >= 0, got '" + value + "'");
  }

  /** The vector of the live document whose unique key is {@code id}, in this core's searcher. */
  private float[] vectorOf(String id, String field, int dimension) throws IOException {
    SchemaField uniqueKey = req.getSchema().getUniqueKeyField();
    if (uniqueKey == null) {
      throw badRequest(ID, "the schema has no uniqueKey to look documents up by");
    }
    BytesRefBuilder indexedId = new BytesRefBuilder();
    uniqueKey.getType().readableToIndexed(id, indexedId);
    SolrIndexSearcher searcher = req.getSearcher();
    long found = searcher.lookupId(indexedId.get()); // skips deleted documents
    if (found == -1) {
      throw badRequest(
          ID, "no document '" + id + "' in this index (not added, deleted or not yet committed)");
    }
    LeafReaderContext leaf = searcher.getTopReaderContext().leaves().get((int) (found >> 32));
    ImageVectorValues values = ImageVectorValues.get(leaf.reader(), field, dimension);
    if (values == null || values.advanceExact((int) found) == false) {
      throw badRequest(ID, "document '" + id + "' has no vector in field " + field);
    }
    return values.vector();
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
          throw badRequest(
              MODEL,
              "query made with PCA model '"
                  + model
                  + "' but the index holds vectors of model '"
                  + other
                  + "'; re-embed the query with the index's model");
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

  private static SolrException badRequest(String param, String problem) {
    return new SolrException(ErrorCode.BAD_REQUEST, param + ": " + problem);
  }
}
