# syntax=docker/dockerfile:1
# The official Solr image with the Lookalike plugin and configset baked in (docker-compose.yml).
#
#   docker build -f docker/solr.Dockerfile -t lookalike-solr .
#
# Stage 1 builds the plugin jar with Maven (tests run in CI, not here); stage 2 copies it, the
# configset and the init script into the official image. The jar goes to /opt/solr/lib, the
# install directory's lib/, which Solr 9 puts on every core's class path by itself: no SOLR_OPTS,
# no solr.xml and no <lib> in solrconfig.xml (which Solr 9.8+ ignores by default) are involved,
# so a user's own SOLR_OPTS cannot lose the plugin (docs/install-solr.md).
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
# /opt/solr is the image's Solr install directory (bin/solr sets solr.install.dir); its Solr home,
# /var/solr, is a volume, where an image upgrade would not replace the jar.
COPY --from=plugin /build/solr-plugin/plugin/target/lookalike-solr-plugin-0.1.0.jar /opt/solr/lib/
ENV LOOKALIKE_SOLR_DIR=/opt/solr/lookalike
COPY solr-config/conf ${LOOKALIKE_SOLR_DIR}/configset/conf
COPY --chmod=0755 docker/solr-init.sh ${LOOKALIKE_SOLR_DIR}/bin/solr-init.sh
# The default for a plain `docker run`; docker-compose.yml sets the same (plus SOLR_EXTRA_OPTS).
# Optional: the plugin's distance kernel uses the JDK's Vector API when this module is present,
# with identical results without it; bin/solr adds it by itself only on Java 20-21, and this image
# runs Java 17.
ENV SOLR_OPTS="--add-modules jdk.incubator.vector"
