package io.lookalike.solr;

import java.util.ArrayList;
import java.util.List;
import org.apache.lucene.search.BooleanClause.Occur;
import org.apache.lucene.search.BooleanQuery;
import org.apache.lucene.search.BoostQuery;
import org.apache.lucene.search.MatchAllDocsQuery;
import org.apache.lucene.search.Query;
import org.apache.solr.common.SolrException;
import org.apache.solr.common.SolrException.ErrorCode;
import org.apache.solr.common.util.NamedList;
import org.apache.solr.core.SolrCore;
import org.apache.solr.handler.component.ResponseBuilder;
import org.apache.solr.handler.component.SearchComponent;
import org.apache.solr.schema.SchemaField;
import org.apache.solr.search.WrappedQuery;
import org.apache.solr.util.plugin.SolrCoreAware;

/**
 * Keeps the collection's own documents (the PCA model, the last clustering: those with a value in
 * {@code field}, default {@code kind}) out of searches, facets and counts, like an appended {@code
 * fq=-kind:*}, but only where they could show up.
 *
 * <p>A main query that is a {@code {!visual}} query ({@link AbstractVisualQuery}) only matches
 * documents with a vector, which these documents never have: it gets no filter, so that Lucene runs
 * it on its own, on {@link VisualBulkScorer}. Every other request gets the filter in {@link
 * ResponseBuilder#getFilters()}, where Solr's filterCache keeps it. Each shard prepares its own
 * request, so this holds in SolrCloud too. The real-time get handler, which the indexing job and
 * the sidecar read these documents with, has no search components and still finds them.
 *
 * <pre>
 * &lt;searchComponent name="reservedDocuments"
 *                  class="io.lookalike.solr.ReservedDocumentsComponent"&gt;
 *   &lt;str name="field"&gt;kind&lt;/str&gt;
 * &lt;/searchComponent&gt;
 * </pre>
 *
 * Listed in a search handler's {@code last-components}, so that its {@code prepare} runs after the
 * query component has parsed {@code q} and {@code fq}.
 */
public class ReservedDocumentsComponent extends SearchComponent implements SolrCoreAware {

  static final String FIELD = "field";
  static final String DEFAULT_FIELD = "kind";

  private String field = DEFAULT_FIELD;

  /** All documents without a value in the field. */
  private Query exclusion;

  @Override
  public void init(NamedList<?> args) {
    Object configured = args == null ? null : args.get(FIELD);
    if (configured != null) {
      field = configured.toString();
    }
  }

  /** Fails the core at load, not every search, when the field cannot be searched. */
  @Override
  public void inform(SolrCore core) {
    SchemaField schemaField = core.getLatestSchema().getFieldOrNull(field);
    if (schemaField == null
        || (schemaField.indexed() == false && schemaField.hasDocValues() == false)) {
      throw new SolrException(
          ErrorCode.SERVER_ERROR,
          getClass().getSimpleName()
              + ": field '"
              + field
              + "' (init arg "
              + FIELD
              + ") must be an indexed or docValues field of the schema: a value in it marks the"
              + " collection's own documents");
    }
    exclusion =
        new BooleanQuery.Builder()
            .add(new MatchAllDocsQuery(), Occur.MUST)
            .add(schemaField.getType().getExistenceQuery(null, schemaField), Occur.MUST_NOT)
            .build();
  }

  @Override
  public void prepare(ResponseBuilder rb) {
    if (onlyVisualMatches(rb)) {
      return;
    }
    List<Query> filters = new ArrayList<>();
    if (rb.getFilters() != null) {
      filters.addAll(rb.getFilters());
    }
    filters.add(exclusion);
    rb.setFilters(filters);
  }

  /**
   * Whether the request only returns and counts matches of a visual main query. Wrappers that
   * keep its matches (a boost, or {@code cache=false} and {@code cost} on {@code q}, a {@link
   * VisualPostFilter}) are looked
   * through. Not so when a query is tagged: a facet or stat may then exclude the main query
   * ({@code {!ex=tag}}) and count all documents.
   */
  private static boolean onlyVisualMatches(ResponseBuilder rb) {
    Query query = rb.getQuery();
    while (query instanceof WrappedQuery
        || query instanceof BoostQuery
        || query instanceof VisualPostFilter) {
      if (query instanceof WrappedQuery wrapped) {
        query = wrapped.getWrappedQuery();
      } else if (query instanceof VisualPostFilter filter) {
        query = filter.getQuery();
      } else {
        query = ((BoostQuery) query).getQuery();
      }
    }
    // "tags" is where QParser registers tagged queries for the facets' exclusions
    return query instanceof AbstractVisualQuery && rb.req.getContext().containsKey("tags") == false;
  }

  /** Adds nothing to the response: the filter is all. */
  @Override
  public void process(ResponseBuilder rb) {}

  @Override
  public String getDescription() {
    return "Hides the collection's own documents (a value in '" + field + "') from searches";
  }

  @Override
  public Category getCategory() {
    return Category.QUERY;
  }
}
