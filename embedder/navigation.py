"""Image navigation: a shopper starts from a gallery of diverse products and steps, image by
image, towards the one they want.

The starting gallery is one representative per cluster when the catalog has been clustered
(largest clusters first), otherwise farthest-point picks over a sample of the catalog. A step
shows the nearest neighbours of the chosen product, nudged away from the products the shopper
rejected (``{!visual like=... unlike=...}``), and never shows a product twice in a session.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from embedder import contract
from embedder.client import Hit, LookalikeClient, Query
from embedder.clustering import HAS_VECTOR, load_clustering
from embedder.errors import BadInput, NotFound

REJECTED_KEPT = 20  # the most recent rejections that steer a step
SESSION_IDLE_SECONDS = 2 * 3600  # a shopper's session is forgotten after this long unused


@dataclass
class Session:
    id: str
    fq: list[str]
    seen: set[str] = field(default_factory=set)
    rejected: list[str] = field(default_factory=list)
    current: str | None = None
    used_at: float = field(default_factory=time.monotonic)


class Navigator:
    """Navigation sessions, kept in memory, bounded in count (the least recently used are
    dropped) and in lifetime (``SESSION_IDLE_SECONDS`` unused)."""

    def __init__(self, client: LookalikeClient, max_sessions: int = 10_000, sample: int = 2000) -> None:
        self.client = client
        self.max_sessions = max_sessions
        self.sample = sample
        self._sessions: OrderedDict[str, Session] = OrderedDict()
        self._lock = threading.Lock()

    def start(
        self, size: int = 12, fq: Sequence[str] = (), choose: str | None = None, reject: Sequence[str] = ()
    ) -> tuple[Session, list[Hit]]:
        """A new session: a diverse gallery, or with ``choose`` straight the first step from
        that product (a shopper who starts from a search result)."""
        if not 1 <= size <= 100:
            raise BadInput(f"size must be between 1 and 100, got {size}")
        session = Session(secrets.token_urlsafe(12), list(fq))
        if choose is not None:
            self._keep(session)
            return self.step(session.id, choose, reject, k=size)
        ids = self._representatives(size) if not fq else []
        ids = ids or self._farthest_points(size, fq)
        gallery = self._hits(ids)
        session.seen.update(h.id for h in gallery)
        self._keep(session)
        return session, gallery

    def step(self, session_id: str, choose: str, reject: Sequence[str] = (), k: int = 12) -> tuple[Session, list[Hit]]:
        session = self.session(session_id)
        rejected = [*session.rejected, *reject][-REJECTED_KEPT:]
        seen = session.seen | {choose, *reject}
        query = Query(like=[choose], unlike=rejected, exclude=sorted(seen), fq=session.fq, k=k)
        gallery = self.client.run(query).hits  # a bad step fails here and leaves the session as it was
        session.rejected, session.current = rejected, choose
        session.seen = seen | {h.id for h in gallery}
        return session, gallery

    def session(self, session_id: str) -> Session:
        with self._lock:
            self._forget_idle()
            session = self._sessions.get(session_id)
            if session is None:
                raise NotFound(f"no navigation session {session_id!r} (expired or never started)")
            self._sessions.move_to_end(session_id)
            session.used_at = time.monotonic()
            return session

    def _keep(self, session: Session) -> None:
        with self._lock:
            self._forget_idle()
            self._sessions[session.id] = session
            while len(self._sessions) > self.max_sessions:
                self._sessions.popitem(last=False)

    def _forget_idle(self) -> None:
        """Drops sessions unused for SESSION_IDLE_SECONDS: the oldest are first (LRU order)."""
        cutoff = time.monotonic() - SESSION_IDLE_SECONDS
        while self._sessions and next(iter(self._sessions.values())).used_at < cutoff:
            self._sessions.popitem(last=False)

    def _representatives(self, size: int) -> list[str]:
        clustering = load_clustering(self.client.index)
        if clustering is None:
            return []
        largest = sorted(clustering.clusters, key=lambda c: (-c.size, c.id))
        return [c.representative for c in largest[:size]]

    def _farthest_points(self, size: int, fq: Sequence[str]) -> list[str]:
        """Greedy farthest-point picks over a sample, starting nearest the sample's mean."""
        docs = self.client.index.search(
            fq=[HAS_VECTOR, *fq], fl=f"id,{contract.VECTOR_FIELD}", rows=self.sample, sort="id asc"
        ).docs
        if not docs:
            return []
        ids = [d["id"] for d in docs]
        vectors = np.stack([contract.decode_vector(d[contract.VECTOR_FIELD]) for d in docs]).astype(np.float64)
        nearest = ((vectors - vectors.mean(axis=0)) ** 2).sum(axis=1)
        picks = [int(nearest.argmin())]
        distance = ((vectors - vectors[picks[0]]) ** 2).sum(axis=1)
        while len(picks) < min(size, len(ids)):
            picks.append(int(distance.argmax()))
            distance = np.minimum(distance, ((vectors - vectors[picks[-1]]) ** 2).sum(axis=1))
        return [ids[i] for i in picks]

    def _hits(self, ids: list[str]) -> list[Hit]:
        docs = self.client.index.get(ids, fl="*")
        return [Hit.of_document(i, docs[i]) for i in ids if i in docs]
