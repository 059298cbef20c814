package io.lookalike.solr;

import org.apache.solr.common.SolrException;
import org.apache.solr.common.SolrException.ErrorCode;

/**
 * The plugin's one form of bad input: a {@code 400} whose message starts with the parameter, field
 * or argument at fault, {@code "param: problem"}, so that clients (and docs/query-syntax.md's
 * table) can rely on where the message points.
 */
final class BadRequest {

  private BadRequest() {}

  static SolrException of(String param, String problem) {
    return new SolrException(ErrorCode.BAD_REQUEST, param + ": " + problem);
  }

  /** {@code error}'s message prefixed with the document it was found in, at index time. */
  static SolrException inDocument(String id, SolrException error) {
    return new SolrException(ErrorCode.BAD_REQUEST, "[doc=" + id + "] " + error.getMessage(), error);
  }
}
