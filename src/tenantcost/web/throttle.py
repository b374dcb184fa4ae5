"""Login flood protection: backoff per account and per client address, and a small gate
in front of password hashing.

- ``LoginThrottle`` counts consecutive failed logins per account name and per client
  address in two bounded LRU tables whose entries expire (cachetools ``TTLCache``), so memory
  stays bounded whatever a flood sends. After ``free`` failures a key must wait
  ``base × 2^(failures − free)`` seconds (capped) before its next attempt is even checked;
  the server answers 429 with ``Retry-After`` meanwhile, without hashing anything.
- ``HashGate`` bounds how many logins hash a password at once (scrypt takes 16 MB and a
  core for ~50 ms) on their own small thread pool, off the request threads, and turns
  logins away at once (503) when its short queue is full.

Both are used from the event loop only (one thread), so they need no locks.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

from cachetools import TTLCache

from tenantcost.outbox.drain import backoff_seconds

T = TypeVar("T")

# Longest account name a dashboard user can have (dashboard_users' CHECK); longer names
# share one key, so a flood of huge names cannot grow the table's keys.
MAX_NAME = 64
TABLE_SIZE = 10_000


@dataclass(frozen=True)
class Backoff:
    """``free`` failures are allowed; the next ones wait ``base`` seconds, doubling, capped."""

    free: int
    base: float = 1.0
    cap: float = 900.0

    def wait_after(self, failures: int) -> float:
        """Seconds to wait after ``failures`` consecutive failures (0 while under ``free``)."""
        return backoff_seconds(failures - self.free + 1, self.base, self.cap)


@dataclass
class _Entry:
    failures: int
    blocked_until: float


class _Table:
    def __init__(self, backoff: Backoff, size: int, clock: Callable[[], float]) -> None:
        self.backoff = backoff
        # An entry is forgotten a cap's length after its last failure (plus an hour), so
        # a long-blocked key never comes back with a clean slate before its wait is over.
        self._entries: TTLCache[str, _Entry] = TTLCache(
            maxsize=size, ttl=backoff.cap + 3600.0, timer=clock
        )

    def retry_after(self, key: str, now: float) -> float:
        entry = self._entries.get(key)
        return max(0.0, entry.blocked_until - now) if entry else 0.0

    def fail(self, key: str, now: float) -> float:
        entry = self._entries.get(key) or _Entry(0, now)
        entry.failures += 1
        entry.blocked_until = now + self.backoff.wait_after(entry.failures)
        self._entries[key] = entry  # re-inserting renews its expiry and LRU position
        return entry.blocked_until - now

    def clear(self, key: str) -> None:
        self._entries.pop(key, None)

    def __len__(self) -> int:
        return len(self._entries)


class LoginThrottle:
    """Per-account and per-address backoff for ``POST /login`` (see the module doc)."""

    def __init__(
        self,
        account: Backoff,
        address: Backoff,
        *,
        size: int = TABLE_SIZE,
        clock: Callable[[], float],
    ) -> None:
        self.clock = clock
        self.accounts = _Table(account, size, clock)
        self.addresses = _Table(address, size, clock)

    @staticmethod
    def account_key(name: str) -> str:
        """The name itself, or one shared key for every name too long to exist."""
        return name if len(name) <= MAX_NAME else name[:MAX_NAME] + "…"

    def retry_after(self, address: str, name: str) -> float:
        """Seconds this attempt must still wait (0: go ahead and check the password)."""
        now = self.clock()
        return max(
            self.addresses.retry_after(address, now),
            self.accounts.retry_after(self.account_key(name), now),
        )

    def failed(self, address: str, name: str) -> float:
        """Record a wrong password; returns the wait the next attempt now faces."""
        now = self.clock()
        return max(
            self.addresses.fail(address, now), self.accounts.fail(self.account_key(name), now)
        )

    def succeeded(self, name: str) -> None:
        """A right password clears the account's failures. Not the address's: one valid
        account must not let an address reset its count and guess on at other accounts."""
        self.accounts.clear(self.account_key(name))


def retry_after_header(seconds: float) -> str:
    """Whole seconds for ``Retry-After``, rounded up, at least 1."""
    return str(max(1, math.ceil(seconds)))


class Saturated(Exception):
    """The password-hashing queue is full: answer 503 at once."""


class HashGate:
    """At most ``workers`` password checks at once on their own threads, ``queue`` waiting."""

    def __init__(self, workers: int, queue: int) -> None:
        self.capacity = workers + queue
        self.inflight = 0
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tc-login")

    async def run(self, fn: Callable[[], T]) -> T:
        if self.inflight >= self.capacity:
            raise Saturated()
        self.inflight += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, fn)
        finally:
            self.inflight -= 1

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
