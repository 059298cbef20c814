package io.lookalike.solr.launcher;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

/** Command-line options of {@link LocalSolr}: {@code --home --port --collection --plugin-jar --configset}. */
record LauncherOptions(Path home, int port, String collection, Path pluginJar, Path configset) {

  static LauncherOptions parse(String[] args) {
    Map<String, String> values = new HashMap<>();
    for (int i = 0; i < args.length; i++) {
      if (!args[i].startsWith("--") || i + 1 >= args.length) {
        throw usage("unexpected argument '" + args[i] + "'");
      }
      values.put(args[i].substring(2), args[++i]);
    }
    Path pluginJar = existing(values, "plugin-jar");
    Path configset = existing(values, "configset");
    if (!Files.exists(configset.resolve("conf").resolve("solrconfig.xml"))) {
      throw usage("--configset " + configset + " has no conf/solrconfig.xml");
    }
    int port;
    try {
      port = Integer.parseInt(values.getOrDefault("port", "8983"));
    } catch (NumberFormatException e) {
      throw usage("--port must be a number, got '" + values.get("port") + "'");
    }
    return new LauncherOptions(
        Path.of(required(values, "home")).toAbsolutePath(),
        port,
        values.getOrDefault("collection", "products"),
        pluginJar,
        configset);
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
            + "; usage: LocalSolr --home DIR --plugin-jar JAR --configset DIR"
            + " [--port 8983] [--collection products]");
  }
}
