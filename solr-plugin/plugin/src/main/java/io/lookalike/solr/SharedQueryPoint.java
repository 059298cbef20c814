package io.lookalike.solr;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Map;
import org.apache.solr.common.params.MapSolrParams;
import org.apache.solr.common.params.ShardParams;
import org.apache.solr.common.params.SolrParams;
import org.apache.solr.request.SolrQueryRequest;

/**
 * One query point per request for {@code id=}, {@code like=} and {@code unlike=}: the node that
 * receives a distributed request resolves the point while it parses the query (as Solr's query
 * component does on that node before any shard is asked), and adds it to the request's parameters,
 * which Solr copies into every shard request. A shard then uses that point instead of looking the
 * documents up itself, so every shard ranks against the same point, the one the receiving node read
 * from the committed index (see {@link DocumentVectors}), and no shard does I/O to parse.
 *
 * <p>The parameter is named after a digest of what the point was made from (field, ids, weight),
 * so that several visual queries of one request each find their own point.
 */
final class SharedQueryPoint {

  static final String PREFIX = "visual.point.";

  private SharedQueryPoint() {}

  /** The parameter that carries the point made from {@code source} (field, ids, weight...). */
  static String param(String... source) {
    try {
      MessageDigest digest = MessageDigest.getInstance("SHA-256");
      for (String part : source) {
        digest.update(String.valueOf(part).getBytes(StandardCharsets.UTF_8));
        digest.update((byte) 0); // parts are separated, so ("ab", "c") is not ("a", "bc")
      }
      return PREFIX + HexFormat.of().formatHex(digest.digest(), 0, 16);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every JVM has SHA-256", e);
    }
  }

  /**
   * The point already resolved for this request: on a shard, the receiving node's; on the
   * receiving node, that of an earlier parse of the same query (Solr may parse it more than once).
   * Null when there is none yet. (A client that sends the parameter itself gets the point it names,
   * as if it had sent that vector with {@code v=}.)
   */
  static float[] resolved(SolrQueryRequest req, String param, int dimension) {
    String shared = req.getParams().get(param);
    return shared == null ? null : VectorFormat.parse(shared, param, dimension);
  }

  /** Hands {@code point} to the shards of a distributed request; nothing otherwise. */
  static void share(SolrQueryRequest req, String param, float[] point) {
    SolrParams params = req.getParams();
    boolean receiving =
        req.getCoreContainer().isZooKeeperAware()
            && params.getBool(ShardParams.IS_SHARD, false) == false;
    if (receiving) {
      SolrParams shared = new MapSolrParams(Map.of(param, VectorFormat.toBase64(point)));
      req.setParams(SolrParams.wrapDefaults(shared, params));
    }
  }
}
