"""Finding SolrCloud nodes through ZooKeeper, so ``--solr`` accepts a ZooKeeper address
(``localhost:9983/solr``, ``zk://zk1:2181,zk2:2181/solr``) as well as a node URL."""

from __future__ import annotations

import logging
import random
import re

from embedder.errors import BadInput, SolrUnavailable

# Kazoo logs each reconnection attempt; the outcome is told once, by the error raised below.
_KAZOO_LOG = logging.getLogger(__name__ + ".kazoo")
_KAZOO_LOG.setLevel(logging.ERROR)

_ZK = re.compile(r"^(?:zk://)?(?P<hosts>[^/\s]+?)(?P<chroot>/[^\s]*)?$")


def is_zookeeper_address(value: str) -> bool:
    return not value.startswith(("http://", "https://")) and bool(_ZK.match(value))


def live_node_urls(address: str, timeout: float = 10.0) -> list[str]:
    """The base URLs (``http://host:port/solr``) of the live Solr nodes registered in ZooKeeper."""
    from kazoo.client import KazooClient  # imported lazily: only SolrCloud users need it
    from kazoo.exceptions import KazooException, NoNodeError
    from kazoo.handlers.threading import KazooTimeoutError

    match = _ZK.match(address.strip())
    if not match:
        raise BadInput(f"not a ZooKeeper address (host:port[/chroot]): {address!r}")
    chroot = (match["chroot"] or "").rstrip("/")
    client = KazooClient(hosts=match["hosts"], timeout=timeout, logger=_KAZOO_LOG)
    try:
        client.start(timeout=timeout)
        nodes = client.get_children(f"{chroot}/live_nodes")
    except KazooTimeoutError:
        raise SolrUnavailable(
            f"ZooKeeper at {match['hosts']} did not answer within {timeout:.0f}s; re-run once it is up"
        ) from None
    except NoNodeError:
        raise BadInput(f"no SolrCloud under {address!r} (no {chroot}/live_nodes); is the chroot right?") from None
    except KazooException as error:
        raise SolrUnavailable(f"ZooKeeper at {match['hosts']}: {error}; re-run once it is up") from error
    finally:
        client.stop()
        client.close()
    if not nodes:
        raise SolrUnavailable(f"no live Solr nodes registered in ZooKeeper at {address}; re-run once one is up")
    return [_node_url(name) for name in sorted(nodes)]


def any_live_node(address: str) -> str:
    """One live node's base URL, picked at random to spread clients over the cluster."""
    return random.choice(live_node_urls(address))


def _node_url(node_name: str) -> str:
    # Solr names a live node "host:port_context", e.g. "10.0.0.5:8983_solr".
    host_port, _, context = node_name.partition("_")
    return f"http://{host_port}/{context.replace('%2F', '/')}"
