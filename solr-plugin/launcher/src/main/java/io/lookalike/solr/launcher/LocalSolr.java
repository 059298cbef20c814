package io.lookalike.solr.launcher;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Comparator;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Stream;
import org.apache.solr.cloud.MiniSolrCloudCluster;
import org.apache.solr.core.CoreContainer;
import org.apache.solr.embedded.JettyConfig;
import org.apache.solr.embedded.JettySolrRunner;

/**
 * Runs a real Solr HTTP server for development and tests, built from Maven artifacts with Solr's
 * own {@link JettySolrRunner} (there is no Solr tarball on the machine).
 *
 * <p>The Solr home is a working directory that survives restarts: the plugin jar is copied into its
 * {@code lib/} (which Solr 9 loads by default, as in production) and the configset into {@code
 * configsets/lookalike}; the collection's core is created once and found again by core discovery on
 * later starts. With {@code --cloud} it runs a local SolrCloud instead ({@link LocalCloud}). The
 * process runs until it is terminated; a JVM shutdown hook stops Jetty cleanly so the index and
 * transaction log are closed.
 */
public final class LocalSolr {
  static final String CONFIGSET_NAME = "lookalike";

  private LocalSolr() {}

  public static void main(String[] args) throws Exception {
    LauncherOptions options = LauncherOptions.parse(args);
    Path home = options.home();
    prepareHome(home, options.pluginJar(), options.configset());
    String cores = String.valueOf(Runtime.getRuntime().availableProcessors());
    System.setProperty(
        "indexSearcherExecutorThreads", System.getProperty("indexSearcherExecutorThreads", cores));
    String ready;
    if (options.cloud()) {
      MiniSolrCloudCluster cluster = LocalCloud.start(options, home.resolve("lib"));
      Runtime.getRuntime().addShutdownHook(new Thread(() -> shutdown(cluster)));
      ready = LocalCloud.describe(cluster, options.collection());
    } else {
      JettySolrRunner jetty =
          new JettySolrRunner(
              home.toString(),
              JettyConfig.builder().setPort(options.port()).setContext("/solr").build());
      jetty.start();
      ensureCore(jetty.getCoreContainer(), options.collection());
      ready = jetty.getBaseUrl() + "/" + options.collection();
    }
    // The Python side reads this line (and then pings the collection over HTTP).
    System.out.printf(Locale.ROOT, "LOOKALIKE_SOLR_READY %s%n", ready);
    System.out.flush();
    Thread.currentThread().join();
  }

  private static void shutdown(MiniSolrCloudCluster cluster) {
    try {
      cluster.shutdown(); // stops the nodes, then ZooKeeper
    } catch (Exception e) {
      e.printStackTrace();
    }
  }

  static void prepareHome(Path home, Path pluginJar, Path configset) throws IOException {
    Files.createDirectories(home);
    Path solrXml = home.resolve("solr.xml");
    if (!Files.exists(solrXml)) {
      try (var in = LocalSolr.class.getResourceAsStream("/solr.xml")) {
        Files.copy(in, solrXml);
      }
    }
    Path lib = home.resolve("lib");
    Files.createDirectories(lib);
    Files.copy(
        pluginJar, lib.resolve(pluginJar.getFileName()), StandardCopyOption.REPLACE_EXISTING);
    Path target = home.resolve("configsets").resolve(CONFIGSET_NAME);
    deleteTree(target);
    copyTree(configset, target);
  }

  static void ensureCore(CoreContainer container, String collection) {
    if (container.getCoreDescriptor(collection) == null) {
      container.create(collection, Map.of("configSet", CONFIGSET_NAME));
    }
  }

  private static void copyTree(Path from, Path to) throws IOException {
    try (Stream<Path> paths = Files.walk(from)) {
      paths.forEach(
          source -> {
            Path dest = to.resolve(from.relativize(source).toString());
            try {
              if (Files.isDirectory(source)) {
                Files.createDirectories(dest);
              } else {
                Files.copy(source, dest, StandardCopyOption.REPLACE_EXISTING);
              }
            } catch (IOException e) {
              throw new UncheckedIOException(e);
            }
          });
    }
  }

  private static void deleteTree(Path root) throws IOException {
    if (!Files.exists(root)) {
      return;
    }
    try (Stream<Path> paths = Files.walk(root)) {
      for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
        Files.delete(p);
      }
    }
  }
}
