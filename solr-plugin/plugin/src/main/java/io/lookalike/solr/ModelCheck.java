package io.lookalike.solr;

import java.io.IOException;
import org.apache.lucene.index.LeafReaderContext;
import org.apache.lucene.index.PostingsEnum;
import org.apache.lucene.index.Terms;
import org.apache.lucene.index.TermsEnum;
import org.apache.lucene.search.DocIdSetIterator;
import org.apache.lucene.util.Bits;
import org.apache.lucene.util.BytesRef;
import org.apache.lucene.util.BytesRefBuilder;
import org.apache.lucene.util.CharsRefBuilder;
import org.apache.solr.common.SolrException;
import org.apache.solr.common.SolrException.ErrorCode;
import org.apache.solr.request.SolrQueryRequest;
import org.apache.solr.schema.SchemaField;

/**
 * {@code {!visual model=...}}: the model that made a query's vector or weights against the models
 * of the index's vectors, recorded per document in the query parser's {@code versionField}.
 */
final class ModelCheck {

  private ModelCheck() {}

  /**
   * Refuses a query vector (or weights) made by another model than the index's vectors: distances
   * and dot products across two PCA models are meaningless, and would silently return garbage
   * rankings. Only live documents count, so the check passes as soon as a re-embedding has replaced
   * them all.
   */
  static void check(SolrQueryRequest req, String versionField, String model) throws IOException {
    SchemaField version = req.getSchema().getFieldOrNull(versionField);
    if (version == null || version.indexed() == false) {
      throw new SolrException(
          ErrorCode.SERVER_ERROR,
          VisualQParser.MODEL
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
              VisualQParser.MODEL
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
}
