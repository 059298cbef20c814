package io.lookalike.solr;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.apache.solr.client.solrj.impl.CloudSolrClient;
import org.apache.solr.client.solrj.request.CollectionAdminRequest;
import org.apache.solr.client.solrj.request.UpdateRequest;
import org.apache.solr.client.solrj.response.QueryResponse;
import org.apache.solr.cloud.SolrCloudTestCase;
import org.apache.solr.common.SolrDocument;
import org.apache.solr.common.SolrInputDocument;
import org.apache.solr.common.cloud.Replica;
import org.apache.solr.common.params.ModifiableSolrParams;
import org.apache.solr.embedded.JettySolrRunner;
import org.junit.BeforeClass;
import org.junit.Test;

/**
 * A node goes down: a visual query either succeeds from the surviving replicas, with the same
 * answer as before, or fails with a clear error; partial results only when asked for with {@code
 * shards.tolerant=true}, and then flagged.
 */
public class CloudNodeDownTest extends SolrCloudTestCase {

  private static final int DIMENSION = 16;
  private static final int DOCS = 100;
  private static final float[] QUERY = new float[DIMENSION];

  @BeforeClass
  public static void startCluster() throws Exception {
    configureCluster(2).addConfig("lookalike", getFile("configset/conf").toPath()).configure();
    CloudSolrClient client = cluster.getSolrClient();
    // "replicated": every shard has a replica on each node; "single": one replica per shard.
    CollectionAdminRequest.createCollection("replicated", "lookalike", 2, 2).process(client);
    CollectionAdminRequest.createCollection("single", "lookalike", 2, 1).process(client);
    cluster.waitForActiveCollection("replicated", 2, 4);
    cluster.waitForActiveCollection("single", 2, 2);
    UpdateRequest update = new UpdateRequest();
    for (int i = 0; i < DOCS; i++) {
      SolrInputDocument doc = new SolrInputDocument("id", String.format(Locale.ROOT, "p%03d", i));
      // the configset's field is 1024-d: pad a short random vector with zeros
      float[] vector = new float[1024];
      System.arraycopy(TestVectors.random(random(), DIMENSION), 0, vector, 0, DIMENSION);
      doc.addField("image_vector", VectorFormat.toBase64(vector));
      update.add(doc);
    }
    update.commit(client, "replicated");
    update.commit(client, "single");
  }

  @Test
  public void testQueriesSucceedFromReplicasOrFailClearly() throws Exception {
    List<String> before = topIds("replicated", false);
    assertEquals(10, before.size());

    JettySolrRunner stopped = cluster.getJettySolrRunner(0);
    String stoppedNode = stopped.getNodeName();
    boolean singleLosesAShard =
        cluster.getSolrClient().getClusterState().getCollection("single").getReplicas().stream()
            .map(Replica::getNodeName)
            .anyMatch(stoppedNode::equals);
    assertTrue("one replica of 'single' must live on the stopped node", singleLosesAShard);
    cluster.stopJettySolrRunner(stopped);
    cluster.waitForJettyToStop(stopped);
    try {
      assertEquals(
          "the surviving replicas give the same answer", before, topIds("replicated", false));

      Exception failure = expectThrows(Exception.class, () -> topIds("single", false));
      StringBuilder messages = new StringBuilder();
      for (Throwable t = failure; t != null; t = t.getCause()) {
        messages.append(t.getMessage()).append(" / ");
      }
      assertTrue(
          messages.toString(), messages.toString().contains("no active servers hosting shard"));

      QueryResponse partial = query("single", true);
      assertEquals(Boolean.TRUE, partial.getHeader().get("partialResults"));
    } finally {
      cluster.startJettySolrRunner(stopped);
      cluster.waitForAllNodes(30);
      // let the replicas recover before the cluster shuts down after the test
      cluster.waitForActiveCollection("replicated", 2, 4);
      cluster.waitForActiveCollection("single", 2, 2);
    }
  }

  private static List<String> topIds(String collection, boolean tolerant) throws Exception {
    List<String> ids = new ArrayList<>();
    for (SolrDocument doc : query(collection, tolerant).getResults()) {
      ids.add((String) doc.getFieldValue("id"));
    }
    return ids;
  }

  private static QueryResponse query(String collection, boolean tolerant) throws Exception {
    float[] vector = new float[1024];
    System.arraycopy(QUERY, 0, vector, 0, DIMENSION);
    ModifiableSolrParams params =
        params(
            "q", "{!visual f=image_vector v=$qv}",
            "qv", VectorFormat.toBase64(vector),
            "fl", "id",
            "rows", "10",
            "shards.tolerant", Boolean.toString(tolerant));
    return cluster.getSolrClient().query(collection, params);
  }
}
