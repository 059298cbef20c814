package io.lookalike.solr;

import org.apache.solr.common.params.SolrParams;
import org.apache.solr.common.util.NamedList;
import org.apache.solr.request.SolrQueryRequest;
import org.apache.solr.search.QParser;
import org.apache.solr.search.QParserPlugin;

/**
 * Registers {@code {!visual}}, exact visual search over an {@link ImageVectorField}; see {@link
 * VisualQParser} for the syntax.
 *
 * <pre>
 * &lt;queryParser name="visual" class="io.lookalike.solr.VisualQParserPlugin"&gt;
 *   &lt;str name="versionField"&gt;pca_version&lt;/str&gt;
 * &lt;/queryParser&gt;
 * </pre>
 *
 * <p>{@code versionField} (default {@code pca_version}) is the indexed field holding the id of the
 * model that made each document's vector; the {@code model} query parameter is checked against it.
 */
public class VisualQParserPlugin extends QParserPlugin {

  public static final String NAME = "visual";
  static final String VERSION_FIELD = "versionField";
  static final String DEFAULT_VERSION_FIELD = "pca_version";

  private String versionField = DEFAULT_VERSION_FIELD;

  @Override
  public void init(NamedList<?> args) {
    Object configured = args == null ? null : args.get(VERSION_FIELD);
    if (configured != null) {
      versionField = configured.toString();
    }
  }

  @Override
  public QParser createParser(
      String qstr, SolrParams localParams, SolrParams params, SolrQueryRequest req) {
    return new VisualQParser(qstr, localParams, params, req, versionField);
  }
}
