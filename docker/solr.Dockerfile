# syntax=docker/dockerfile:1
# The official Solr image with the Lookalike plugin and configset baked in (docker-compose.yml).
#
#   docker build -f docker/solr.Dockerfile -t lookalike-solr .
#
# Stage 1 builds the plugin jar with Maven (tests run in CI, not here); stage 2 copies it, the
# configset and the init script into the official image. The plugin is loaded through solr.xml's
# sharedLib (the official image's default solr.xml reads it from -Dsolr.sharedLib), never through
# <lib> in solrconfig.xml, which Solr 9.8+ ignores by default.
ARG SOLR_IMAGE=solr:9.10
ARG MAVEN_IMAGE=maven:3-eclipse-temurin-17

FROM ${MAVEN_IMAGE} AS plugin
WORKDIR /build
# The poms first, so the dependency download is cached until a pom changes. The parent pom lists
# both modules, so Maven needs the launcher's pom too, though only the plugin is built.
COPY solr-plugin/pom.xml solr-plugin/pom.xml
COPY solr-plugin/plugin/pom.xml solr-plugin/plugin/pom.xml
COPY solr-plugin/launcher/pom.xml solr-plugin/launcher/pom.xml
RUN --mount=type=cache,target=/root/.m2 \
    mvn -B -ntp -q -f solr-plugin/pom.xml -pl plugin dependency:go-offline
COPY solr-plugin/plugin/src/main solr-plugin/plugin/src/main
RUN --mount=type=cache,target=/root/.m2 \
    mvn -B -ntp -q -f solr-plugin/pom.xml -pl plugin -Dmaven.test.skip=true package \
 && test -s solr-plugin/plugin/target/lookalike-solr-plugin-0.1.0.jar

FROM ${SOLR_IMAGE}
# Under the Solr install directory on purpose: bin/solr runs Solr with the Java security manager,
# whose policy (server/etc/security.policy) lets Solr read the install dir and the Solr home but
# not an arbitrary path such as /opt/lookalike. /var/solr (the Solr home) is a volume, so a jar
# put there by the image would not be replaced when the image is upgraded.
ENV LOOKALIKE_SOLR_DIR=/opt/solr/lookalike
COPY --from=plugin /build/solr-plugin/plugin/target/lookalike-solr-plugin-0.1.0.jar ${LOOKALIKE_SOLR_DIR}/lib/
COPY solr-config/conf ${LOOKALIKE_SOLR_DIR}/configset/conf
COPY --chmod=0755 docker/solr-init.sh ${LOOKALIKE_SOLR_DIR}/bin/solr-init.sh
# Defaults for a plain `docker run`; docker-compose.yml sets the same (plus extras) explicitly.
# --add-modules jdk.incubator.vector: the plugin may use the incubating Vector API; bin/solr adds
# the module by itself only on Java 20-21, and this image runs Java 17.
ENV SOLR_OPTS="-Dsolr.sharedLib=/opt/solr/lookalike/lib --add-modules jdk.incubator.vector"
