package io.lookalike.solr.launcher;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;

/**
 * Command-line options of {@link LocalSolr}: {@code --home --port --collection --plugin-jar
 * --configset}, and for a SolrCloud {@code --cloud --nodes --shards --replicas}.
 */
record LauncherOptions(
    Path home,
    int port,
    String collection,
    Path pluginJar,
    Path configset,
    boolean cloud,
    int nodes,
    int shards,
    int replicas) {

  private static final Set<String> FLAGS = Set.of("cloud");

  static LauncherOptions parse(String[] args) {
    Map<String, String> values = new HashMap<>();
    for (int i = 0; i < args.length; i++) {
      String name = args[i].startsWith("--") ? args[i].substring(2) : null;
      if (name != null && FLAGS.contains(name)) {
        values.put(name, "true");
      } else if (name == null || i + 1 >= args.length) {
        throw usage("unexpected argument '" + args[i] + "'");
      } else {
        values.put(name, args[++i]);
      }
    }
    Path pluginJar = existing(values, "plugin-jar");
    Path configset = existing(values, "configset");
    if (!Files.exists(configset.resolve("conf").resolve("solrconfig.xml"))) {
      throw usage("--configset " + configset + " has no conf/solrconfig.xml");
    }
    LauncherOptions options =
        new LauncherOptions(
            Path.of(required(values, "home")).toAbsolutePath(),
            number(values, "port", 8983),
            values.getOrDefault("collection", "products"),
            pluginJar,
            configset,
            values.containsKey("cloud"),
            number(values, "nodes", 1),
            number(values, "shards", 1),
            number(values, "replicas", 1));
    if (options.nodes < 1 || options.shards < 1 || options.replicas < 1) {
      throw usage("--nodes, --shards and --replicas must be at least 1");
    }
    return options;
  }

  private static int number(Map<String, String> values, String name, int defaultValue) {
    String value = values.get(name);
    try {
      return value == null ? defaultValue : Integer.parseInt(value);
    } catch (NumberFormatException e) {
      throw usage("--" + name + " must be a number, got '" + value + "'");
    }
  }

  private static Path existing(Map<String, String> values, String name) {
    Path path = Path.of(required(values, name)).toAbsolutePath().normalize();
    if (!Files.exists(path)) {
      throw usage("--" + name + " " + path + " does not exist");
    }
    return path;
  }

  private static String required(Map<String, String> values, String name) {
    String value = values.get(name);
    if (value == null) {
      throw usage("--" + name + " is required");
    }
    return value;
  }

  private static IllegalArgumentException usage(String problem) {
    return new IllegalArgumentException(
        problem
            + "; usage: LocalSolr --home DIR --plugin-jar JAR --configset DIR [--port 8983]"
            + " [--collection products] [--cloud --nodes 3 --shards 2 --replicas 2]");
  }
}
