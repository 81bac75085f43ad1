"""Who is posting, and are they posting too fast.

The client is the peer address, unless the peer is a configured trusted proxy: then we walk
``X-Forwarded-For`` from the right (the hop nearest us) past every trusted proxy and take the
first address we do not trust. Taking the leftmost entry instead would let any client choose
its own identity by sending the header itself.

Limits are sliding windows (per minute, per hour) held in memory, keyed by the salted hash of
the client's network (``privacy.hash_address``: /32 for IPv4, /64 for IPv6), so the limiter
never holds a raw address. One intake process owns its limiter; behind several processes each
counts alone — see docs/intake-api.md.
"""

from __future__ import annotations

import ipaddress
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence

from afterword.config import LimitsConfig
from afterword.errors import CommentRejected

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
MINUTE = 60.0
HOUR = 3600.0
SWEEP_EVERY = 1024


def parse_networks(entries: Iterable[str]) -> list[Network]:
    """Trusted proxies as networks: ``10.0.0.1`` is read as ``10.0.0.1/32``."""
    return [ipaddress.ip_network(entry.strip(), strict=False) for entry in entries if entry.strip()]


def _is_trusted(address: str, trusted: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return False
    return any(ip in network for network in trusted)


def client_address(peer: str, forwarded_for: str | None, trusted: Sequence[Network]) -> str:
    """The address a request is accounted to (see the module docstring)."""
    if not trusted or not forwarded_for or not _is_trusted(peer, trusted):
        return peer
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _is_trusted(hop, trusted):
            return hop
    return hops[0] if hops else peer


class RateLimiter:
    """Sliding-window counters per client key; thread-safe, O(1) amortized per check."""

    def __init__(self, limits: LimitsConfig, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = limits.per_minute
        self.per_hour = limits.per_hour
        self._clock = clock
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()
        self._checks = 0
        self._keep = max(self.per_minute, self.per_hour)

    @property
    def enabled(self) -> bool:
        return bool(self.per_minute or self.per_hour)

    def hit(self, key: str) -> None:
        """Count one submission, or raise 429 (code ``rate_limited``) with Retry-After."""
        if not self.enabled:
            return
        now = self._clock()
        with self._lock:
            self._checks += 1
            if self._checks % SWEEP_EVERY == 0:
                self._sweep(now)
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - HOUR:
                hits.popleft()
            wait = self._wait(hits, now)
            if wait > 0:
                raise CommentRejected(
                    "too many comments from your address; try again later",
                    code="rate_limited",
                    status=429,
                    headers={"Retry-After": str(max(1, math.ceil(wait)))},
                )
            hits.append(now)
            while len(hits) > self._keep:
                hits.popleft()

    def _wait(self, hits: deque[float], now: float) -> float:
        """Seconds until one more hit fits in both windows (0: it fits now)."""
        wait = 0.0
        if self.per_hour and len(hits) >= self.per_hour:
            wait = hits[len(hits) - self.per_hour] + HOUR - now
        if self.per_minute and len(hits) >= self.per_minute:
            oldest_in_window = hits[len(hits) - self.per_minute]
            if oldest_in_window > now - MINUTE:
                wait = max(wait, oldest_in_window + MINUTE - now)
        return wait

    def _sweep(self, now: float) -> None:
        """Forget clients idle for an hour, so memory follows the active clients only."""
        stale = [key for key, hits in self._hits.items() if not hits or hits[-1] <= now - HOUR]
        for key in stale:
            del self._hits[key]
