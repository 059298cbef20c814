#!/usr/bin/env bash
# One-off SolrCloud initialisation for Lookalike (the solr-init services of docker-compose.yml):
# uploads the configset to ZooKeeper, creates the collection unless it exists, and points the
# alias that clients use at it unless that alias (or a collection of that name) already exists.
# Safe to run again: nothing existing is changed, and an existing alias is never re-pointed.
#
# Clients address the alias (products), never the versioned collection behind it (products_v1):
# a PCA model upgrade re-indexes into products_v2 and then moves the alias (docs/deployment.md).
#
# Runs inside the Lookalike Solr image (docker/solr.Dockerfile), which has bin/solr and wget.
# Environment:
#   ZK_HOST             ZooKeeper connection string (required), e.g. zookeeper:2181
#   SOLR_URL            a Solr node's base URL (default http://solr:8983/solr)
#   COLLECTION          collection to create (default products_v1)
#   ALIAS               alias to create for it if missing (default products; empty: no alias)
#   CONFIGSET           configset name in ZooKeeper (default lookalike)
#   CONFIGSET_DIR       configset conf/ directory (default the one baked into the image)
#   NUM_SHARDS          shards of a new collection (default 2)
#   REPLICATION_FACTOR  replicas of each shard (default 2)
#   MIN_LIVE_NODES      nodes to wait for before creating (default REPLICATION_FACTOR)
#   RELOAD              "true": reload an existing collection so it picks up the uploaded configset
#   WAIT_SECONDS        how long to wait for Solr (default 300)
set -euo pipefail

: "${ZK_HOST:?set ZK_HOST to the ZooKeeper connection string, e.g. zookeeper:2181}"
SOLR_URL="${SOLR_URL:-http://solr:8983/solr}"
SOLR_URL="${SOLR_URL%/}"
COLLECTION="${COLLECTION:-products_v1}"
ALIAS="${ALIAS-products}"
CONFIGSET="${CONFIGSET:-lookalike}"
CONFIGSET_DIR="${CONFIGSET_DIR:-${LOOKALIKE_SOLR_DIR:-/opt/solr/lookalike}/configset/conf}"
NUM_SHARDS="${NUM_SHARDS:-2}"
REPLICATION_FACTOR="${REPLICATION_FACTOR:-2}"
MIN_LIVE_NODES="${MIN_LIVE_NODES:-$REPLICATION_FACTOR}"
RELOAD="${RELOAD:-false}"
WAIT_SECONDS="${WAIT_SECONDS:-300}"

log() { echo "solr-init: $*"; }

# GET a Collections API action; prints the JSON body (also on an HTTP error) and fails on one.
collections_api() {
  wget -q -O - --content-on-error "$SOLR_URL/admin/collections?$1&wt=json&indent=off"
}

live_nodes() {
  collections_api "action=CLUSTERSTATUS" 2>/dev/null \
    | sed -n 's/.*"live_nodes":\[\([^]]*\)\].*/\1/p' | tr ',' '\n' | grep -c . || true
}

log "waiting for $MIN_LIVE_NODES live Solr node(s) at $SOLR_URL"
deadline=$((SECONDS + WAIT_SECONDS))
until (( $(live_nodes) >= MIN_LIVE_NODES )); do
  if (( SECONDS >= deadline )); then
    log "gave up after ${WAIT_SECONDS}s: fewer than $MIN_LIVE_NODES live nodes at $SOLR_URL"
    exit 1
  fi
  sleep 3
done

log "uploading configset $CONFIGSET from $CONFIGSET_DIR to ZooKeeper at $ZK_HOST"
solr zk upconfig --conf-name "$CONFIGSET" --conf-dir "$CONFIGSET_DIR" --zk-host "$ZK_HOST"
if ! wget -q -O - "$SOLR_URL/admin/configs?action=LIST&wt=json&indent=off" | grep -q "\"$CONFIGSET\""; then
  log "configset $CONFIGSET is not in ZooKeeper after the upload"
  exit 1
fi

# The alias that clients use, if it should exist and does not: to this collection.
ensure_alias() {
  [[ -n "$ALIAS" && "$ALIAS" != "$COLLECTION" ]] || return 0
  local target
  target=$(alias_target "$ALIAS")
  if [[ -n "$target" ]]; then
    log "alias $ALIAS exists (-> $target); left as it is"
  elif collections_api "action=CLUSTERSTATUS&collection=$ALIAS" >/dev/null 2>&1; then
    log "$ALIAS is a collection, not an alias; left as it is (see docs/deployment.md, upgrades)"
  else
    log "creating alias $ALIAS -> $COLLECTION"
    collections_api "action=CREATEALIAS&name=$ALIAS&collections=$COLLECTION" >/dev/null
  fi
}

# The collection(s) an alias points at, empty when there is no such alias.
alias_target() {
  collections_api "action=LISTALIASES" | sed -n "s/.*\"aliases\":{[^}]*\"$1\":\"\([^\"]*\)\".*/\1/p"
}

if [[ -n "$(alias_target "$COLLECTION")" ]]; then
  log "$COLLECTION is an alias (-> $(alias_target "$COLLECTION")); nothing to create"
  exit 0
fi

if status=$(collections_api "action=CLUSTERSTATUS&collection=$COLLECTION"); then
  if [[ "$RELOAD" == "true" ]]; then
    log "collection $COLLECTION exists; reloading it with configset $CONFIGSET"
    collections_api "action=RELOAD&name=$COLLECTION" >/dev/null
  else
    log "collection $COLLECTION exists; left as it is (RELOAD=true applies an updated configset)"
  fi
  ensure_alias
  exit 0
elif ! grep -q "not found" <<<"$status"; then
  log "could not read the cluster state: ${status:-no answer from $SOLR_URL}"
  exit 1
fi

log "creating collection $COLLECTION: $NUM_SHARDS shard(s) x $REPLICATION_FACTOR replica(s), configset $CONFIGSET"
if ! body=$(collections_api "action=CREATE&name=$COLLECTION&numShards=$NUM_SHARDS&replicationFactor=$REPLICATION_FACTOR&collection.configName=$CONFIGSET&waitForFinalState=true"); then
  log "CREATE failed: $body"
  exit 1
fi
# A query through the new collection proves every shard's core loaded the plugin and schema.
wget -q -O /dev/null "$SOLR_URL/$COLLECTION/select?q=*:*&rows=0"
ensure_alias
log "collection $COLLECTION is ready${ALIAS:+ (clients use $ALIAS)}"
