"""Who is posting, and are they posting too fast.

The client is the peer address, unless the peer is a configured trusted proxy: then we read
``X-Forwarded-For`` — every line of it, in order, joined with commas as RFC 9110 says repeated
list headers combine (a proxy such as HAProxy's ``option forwardfor`` *adds a line* rather than
extending the client's) — from the right (the hop nearest us) past every trusted proxy, and
take the first address we do not trust. Taking the leftmost entry, or the first line only,
would let any client choose its own identity by sending the header itself.

Entries may carry a port (``203.0.113.20:40001``, ``[2001:db8::1]:443``) or IPv6 brackets;
both are removed. An entry that is not an address (``unknown``, an obfuscated name, garbage)
is never an identity: the walk stops there and the client is the nearest hop we could read —
the last trusted proxy passed, else the peer. Such clients then share their proxy's limits
(conservative: nobody escapes the limit by sending garbage, since what a client wrote is always
further left than the entry its first proxy appended). ``Forwarded`` (RFC 7239) is not read.

Limits are sliding windows held in memory, keyed by the salted hash of the client's network
(``privacy.hash_address``: /32 for IPv4, /64 for IPv6), so the limiter never holds a raw
address. Two things are counted per client: *accepted* submissions (stored, honeypot catches
included so a bot cannot tell) against ``per_minute`` and ``per_hour``, and *attempts* — every
submission that parses, accepted or refused — against the higher ``attempts_per_minute``, so a
person fixing a typo a few times is not locked out while a flood of invalid posts still is. An
accepted slot is reserved when the request is admitted (concurrent posts cannot overshoot) and
given back if the submission is then refused or could not be stored.

That limiter is per process: it answers a flood quickly, without touching the database. The
accepted-submission limits are also decided where submissions are stored (``window_refusal``,
applied by ``batch.apply_batch`` inside the writer's transaction and by ``afterword pull``),
from the comments table that every worker and every intake machine shares: behind
``serve --workers N`` or several SQS intakes, a client still gets exactly ``per_minute``.
"""

from __future__ import annotations

import bisect
import ipaddress
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from afterword.config import LimitsConfig
from afterword.errors import CommentRejected
from afterword.store.models import format_time, parse_time

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
MINUTE = 60.0
HOUR = 3600.0
SWEEP_EVERY = 1024
ATTEMPTS_FACTOR = 4  # attempts_per_minute = 0: this many times per_minute


def parse_networks(entries: Iterable[str]) -> list[Network]:
    """Trusted proxies as networks: ``10.0.0.1`` is read as ``10.0.0.1/32``."""
    return [ipaddress.ip_network(entry.strip(), strict=False) for entry in entries if entry.strip()]


def parse_hop(entry: str) -> Address | None:
    """One ``X-Forwarded-For`` entry as an address (port, brackets, zone removed), or None."""
    text = entry.strip().strip('"')
    if text.startswith("["):  # [v6] or [v6]:port
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:  # v4:port (a bare v6 address has at least two colons)
        text = text.partition(":")[0]
    try:
        ip = ipaddress.ip_address(text.partition("%")[0])
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def _is_trusted(ip: Address | None, trusted: Sequence[Network]) -> bool:
    return ip is not None and any(ip in network for network in trusted)


def client_address(
    peer: str, forwarded_for: str | Sequence[str] | None, trusted: Sequence[Network]
) -> str:
    """The address a request is accounted to (see the module docstring).

    ``forwarded_for``: the ``X-Forwarded-For`` header's lines, in the order received.
    """
    if not trusted or not forwarded_for or not _is_trusted(parse_hop(peer), trusted):
        return peer
    lines = [forwarded_for] if isinstance(forwarded_for, str) else forwarded_for
    hops = [hop for line in lines for hop in line.split(",") if hop.strip()]
    nearest = peer
    for hop in reversed(hops):
        ip = parse_hop(hop)
        if ip is None:
            return nearest
        if not _is_trusted(ip, trusted):
            return str(ip)
        nearest = str(ip)
    return nearest  # every hop is a trusted proxy: the farthest one is the client


@dataclass(frozen=True)
class Slot:
    """An admitted request's reserved place in its client's accepted-submission window."""

    key: str
    at: float


class RateLimiter:
    """Sliding-window counters per client key; thread-safe, O(1) amortized per check."""

    def __init__(self, limits: LimitsConfig, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = limits.per_minute
        self.per_hour = limits.per_hour
        self.attempts_per_minute = effective_attempts(limits)
        self._clock = clock
        self._accepted: dict[str, deque[float]] = {}
        self._attempts: dict[str, deque[float]] = {}
        self._lock = threading.Lock()
        self._checks = 0
        self._keep = max(self.per_minute, self.per_hour)

    @property
    def enabled(self) -> bool:
        return bool(self.per_minute or self.per_hour or self.attempts_per_minute)

    def admit(self, key: str) -> Slot | None:
        """Count one attempt and reserve one accepted submission, or raise 429.

        The 429 (code ``rate_limited``) carries Retry-After: the seconds until both windows
        have room. Give the slot back with ``release`` if the submission is not stored.
        """
        return self._count(key, reserve=True)

    def attempt(self, key: str) -> None:
        """Count one attempt only, or raise 429: for requests that never add a comment.

        An author's edit or delete is bounded by ``attempts_per_minute`` but must not wait
        for the accepted-submission window that the author's own comments filled.
        """
        self._count(key, reserve=False)

    def _count(self, key: str, reserve: bool) -> Slot | None:
        if not self.enabled:
            return None
        now = self._clock()
        with self._lock:
            self._checks += 1
            if self._checks % SWEEP_EVERY == 0:
                self._sweep(now)
            attempts = self._attempts.setdefault(key, deque())
            accepted = self._accepted.setdefault(key, deque())
            while accepted and accepted[0] <= now - HOUR:
                accepted.popleft()
            wait = _wait(attempts, now, self.attempts_per_minute, 0)
            if reserve:
                wait = max(wait, _wait(accepted, now, self.per_minute, self.per_hour))
            if wait > 0:
                what = "comments" if reserve else "requests"
                raise CommentRejected(
                    f"too many {what} from your address; try again later",
                    code="rate_limited",
                    status=429,
                    headers={"Retry-After": str(max(1, math.ceil(wait)))},
                )
            _push(attempts, now, self.attempts_per_minute)
            if reserve:
                _push(accepted, now, self._keep)
        return Slot(key, now) if reserve else None

    def hit(self, key: str) -> None:
        """Count one accepted submission now (``admit`` without giving the slot back)."""
        self.admit(key)

    def release(self, slot: Slot | None) -> None:
        """The admitted submission was refused or not stored: it no longer counts as accepted.

        Its attempt still counts, so refusals are bounded by ``attempts_per_minute``.
        """
        if slot is None:
            return
        with self._lock:
            accepted = self._accepted.get(slot.key)
            if accepted is not None and slot.at in accepted:
                accepted.remove(slot.at)

    def _sweep(self, now: float) -> None:
        """Forget clients idle for an hour, so memory follows the active clients only."""
        for table in (self._accepted, self._attempts):
            stale = [key for key, hits in table.items() if not hits or hits[-1] <= now - HOUR]
            for key in stale:
                del table[key]


def effective_attempts(limits: LimitsConfig) -> int:
    """``attempts_per_minute``, or its default (a multiple of ``per_minute``); never below it."""
    attempts = limits.attempts_per_minute or ATTEMPTS_FACTOR * limits.per_minute
    return max(attempts, limits.per_minute) if attempts else 0


def _push(hits: deque[float], now: float, keep: int) -> None:
    if keep:
        hits.append(now)
        while len(hits) > keep:
            hits.popleft()


def _wait(hits: deque[float], now: float, per_minute: int, per_hour: int) -> float:
    """Seconds until one more hit fits in both windows (0: it fits now)."""
    wait = 0.0
    if per_hour and len(hits) >= per_hour:
        wait = hits[len(hits) - per_hour] + HOUR - now
    if per_minute and len(hits) >= per_minute:
        oldest_in_window = hits[len(hits) - per_minute]
        if oldest_in_window > now - MINUTE:
            wait = max(wait, oldest_in_window + MINUTE - now)
    return wait


def shared_window_seconds(limits: LimitsConfig) -> float:
    """How far back ``window_refusal`` looks: the longest enabled accepted-submission window."""
    if limits.per_hour:
        return HOUR
    return MINUTE if limits.per_minute else 0.0


def window_refusal(
    accepted: Sequence[str], at: str, limits: LimitsConfig
) -> CommentRejected | None:
    """The 429 for one more accepted submission at ``at``, or None if it fits.

    ``accepted``: the sorted creation times (ISO text) of the client's accepted submissions,
    as stored — by every process and machine. Retry-After says when both windows have room.
    """
    moment = parse_time(at)
    upto = bisect.bisect_right(accepted, at)
    wait = 0.0
    for allowed, span in ((limits.per_minute, MINUTE), (limits.per_hour, HOUR)):
        if not allowed:
            continue
        first = bisect.bisect_right(
            accepted, format_time(moment - timedelta(seconds=span)), 0, upto
        )
        if upto - first >= allowed:
            oldest = parse_time(accepted[upto - allowed])
            wait = max(wait, (oldest - moment).total_seconds() + span)
    if wait <= 0:
        return None
    return CommentRejected(
        "too many comments from your address; try again later",
        code="rate_limited",
        status=429,
        headers={"Retry-After": str(max(1, math.ceil(wait)))},
    )
