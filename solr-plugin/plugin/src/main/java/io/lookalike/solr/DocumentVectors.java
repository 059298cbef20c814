package io.lookalike.solr;

import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.lucene.index.LeafReaderContext;
import org.apache.lucene.util.BytesRefBuilder;
import org.apache.solr.client.solrj.SolrClient;
import org.apache.solr.client.solrj.SolrServerException;
import org.apache.solr.common.SolrDocument;
import org.apache.solr.common.SolrException;
import org.apache.solr.common.SolrException.ErrorCode;
import org.apache.solr.common.params.ModifiableSolrParams;
import org.apache.solr.core.CoreContainer;
import org.apache.solr.request.SolrQueryRequest;
import org.apache.solr.schema.SchemaField;
import org.apache.solr.search.SolrIndexSearcher;

/**
 * The vectors of indexed documents, by unique key, as the committed (or soft-committed) index has
 * them: "more like this product" and the liked and disliked examples of a query.
 *
 * <p>A document is read from this core's searcher when it is there. In SolrCloud a product lives on
 * one shard only, so the ids this core lacks are looked up in the whole collection with one search
 * (not a real-time get): every shard's searcher, so the same committed view as a single node's. The
 * node that received the request does this once and hands the resulting query point to the shards
 * (see {@link SharedQueryPoint}); a shard only looks up ids itself for a visual query the receiving
 * node did not parse.
 */
final class DocumentVectors {

  private final SolrQueryRequest req;
  private final String field;
  private final int dimension;

  DocumentVectors(SolrQueryRequest req, String field, int dimension) {
    this.req = req;
    this.field = field;
    this.dimension = dimension;
  }

  int dimension() {
    return dimension;
  }

  /**
   * The vector of each id, in order; a 400 naming {@code param} for an unknown id or a document
   * without a vector.
   */
  List<float[]> get(List<String> ids, String param) throws IOException {
    Map<String, float[]> found = new LinkedHashMap<>();
    List<String> missing = new ArrayList<>();
    for (String id : ids) {
      float[] local = local(id, param);
      if (local != null) {
        found.put(id, local);
      } else {
        missing.add(id);
      }
    }
    if (missing.isEmpty() == false && req.getCoreContainer().isZooKeeperAware()) {
      found.putAll(fromCollection(missing, param));
    }
    List<float[]> vectors = new ArrayList<>(ids.size());
    for (String id : ids) {
      float[] vector = found.get(id);
      if (vector == null) {
        throw BadRequest.of(param, "no document '" + id + "' (not added, or deleted)");
      }
      vectors.add(vector);
    }
    return vectors;
  }

  /** The vector of a live document of this core, or null when the core does not hold it. */
  private float[] local(String id, String param) throws IOException {
    SchemaField uniqueKey = req.getSchema().getUniqueKeyField();
    BytesRefBuilder indexedId = new BytesRefBuilder();
    uniqueKey.getType().readableToIndexed(id, indexedId);
    SolrIndexSearcher searcher = req.getSearcher();
    long found = searcher.lookupId(indexedId.get()); // skips deleted documents
    if (found == -1) {
      return null;
    }
    LeafReaderContext leaf = searcher.getTopReaderContext().leaves().get((int) (found >> 32));
    ImageVectorValues values =
        ImageVectorValues.get(leaf.reader(), field, dimension, VectorReads.of(searcher));
    if (values == null || values.advanceExact((int) found) == false) {
      throw BadRequest.of(param, "document '" + id + "' has no vector in field " + field);
    }
    return values.vector();
  }

  private Map<String, float[]> fromCollection(List<String> ids, String param) throws IOException {
    CoreContainer container = req.getCoreContainer();
    SolrClient client =
        container
            .getSolrClientCache()
            .getCloudSolrClient(container.getZkController().getZkServerAddress());
    String idField = req.getSchema().getUniqueKeyField().getName();
    ModifiableSolrParams params = new ModifiableSolrParams();
    String separator = separator(ids);
    params.set("q", "{!terms f=" + idField + " separator=$lookupSeparator v=$lookupIds}");
    params.set("lookupSeparator", separator);
    params.set("lookupIds", String.join(separator, ids));
    params.set("fl", idField + "," + field);
    params.set("rows", ids.size());
    Map<String, float[]> vectors = new LinkedHashMap<>();
    try {
      String collection = req.getCore().getCoreDescriptor().getCollectionName();
      for (SolrDocument doc : client.query(collection, params).getResults()) {
        String id = String.valueOf(doc.getFirstValue(idField));
        Object value = doc.getFirstValue(field);
        if (value == null) {
          throw BadRequest.of(param, "document '" + id + "' has no vector in field " + field);
        }
        vectors.put(id, VectorFormat.parse(value, param, dimension));
      }
    } catch (SolrServerException e) {
      throw new SolrException(ErrorCode.SERVICE_UNAVAILABLE, param + ": cannot look up " + ids, e);
    }
    return vectors;
  }

  /** A control character that no id holds, to join the ids of a terms query with. */
  private static String separator(List<String> ids) {
    for (char c = '\u001f'; c > 0; c--) {
      String candidate = String.valueOf(c);
      if (ids.stream().noneMatch(id -> id.contains(candidate))) {
        return candidate;
      }
    }
    throw BadRequest.of("id", "ids hold every control character; no separator is left");
  }
}
