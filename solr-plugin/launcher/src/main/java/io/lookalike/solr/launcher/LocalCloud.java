package io.lookalike.solr.launcher;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.apache.solr.client.solrj.request.CollectionAdminRequest;
import org.apache.solr.cloud.MiniSolrCloudCluster;
import org.apache.solr.cloud.ZkTestServer;
import org.apache.solr.common.cloud.ClusterState;
import org.apache.solr.embedded.JettyConfig;
import org.apache.solr.embedded.JettySolrRunner;

/**
 * A local SolrCloud: Solr's {@link MiniSolrCloudCluster} with an embedded ZooKeeper, the configset
 * uploaded and the collection created once.
 *
 * <p>Ports and directories are fixed so the cluster survives restarts: node {@code i} listens on
 * {@code port + i} with its cores under {@code home/node<i>}, and ZooKeeper listens on {@code port
 * + 1000} (Solr's own convention) with its data under {@code home/zookeeper}, never reformatted. On
 * a later start the collection is found in ZooKeeper and its cores by core discovery.
 */
final class LocalCloud {

  private LocalCloud() {}

  static MiniSolrCloudCluster start(LauncherOptions options, Path lib) throws Exception {
    Path home = options.home();
    ZkTestServer zookeeper =
        new ZkTestServer(home.resolve("zookeeper/server1/data"), options.port() + 1000);
    zookeeper.run(false);
    // Every node loads the plugin jar from the shared lib directory, as a production node would.
    System.setProperty("solr.sharedLib", lib.toString());
    String solrXml =
        MiniSolrCloudCluster.DEFAULT_CLOUD_SOLR_XML.replace(
            "<solr>", "<solr>\n  <str name=\"sharedLib\">${solr.sharedLib:}</str>");
    MiniSolrCloudCluster cluster =
        new MiniSolrCloudCluster(0, home, solrXml, JettyConfig.builder().build(), zookeeper, false);
    for (int i = 0; i < options.nodes(); i++) {
      JettyConfig node = JettyConfig.builder().setPort(options.port() + i).build();
      cluster.startJettySolrRunner("node" + i, "/solr", node);
    }
    cluster.uploadConfigSet(options.configset().resolve("conf"), LocalSolr.CONFIGSET_NAME);
    ensureCollection(cluster, options);
    return cluster;
  }

  private static void ensureCollection(MiniSolrCloudCluster cluster, LauncherOptions options)
      throws Exception {
    String collection = options.collection();
    ClusterState state = cluster.getSolrClient().getClusterState();
    if (state.getCollectionOrNull(collection) == null) {
      CollectionAdminRequest.createCollection(
              collection, LocalSolr.CONFIGSET_NAME, options.shards(), options.replicas())
          .process(cluster.getSolrClient());
    } else {
      // the configset may have changed since the collection was created
      CollectionAdminRequest.reloadCollection(collection).process(cluster.getSolrClient());
    }
    int shards =
        cluster.getSolrClient().getClusterState().getCollection(collection).getSlices().size();
    int replicas =
        cluster.getSolrClient().getClusterState().getCollection(collection).getReplicas().size();
    cluster.waitForActiveCollection(collection, shards, replicas);
  }

  /** The base URLs of the nodes, e.g. {@code http://127.0.0.1:8983/solr}. */
  static List<String> nodeUrls(MiniSolrCloudCluster cluster) {
    List<String> urls = new ArrayList<>();
    for (JettySolrRunner jetty : cluster.getJettySolrRunners()) {
      urls.add(jetty.getBaseUrl().toString());
    }
    return urls;
  }

  static String describe(MiniSolrCloudCluster cluster, String collection) {
    return String.format(
        Locale.ROOT,
        "zk=%s nodes=%s collection=%s",
        cluster.getZkServer().getZkAddress(),
        String.join(",", nodeUrls(cluster)),
        collection);
  }
}
