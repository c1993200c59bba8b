"""Login throttling: growing delays after failed logins, per account and per client address.

Each account (the email as typed, normalised) and each client address keeps a count of
failed logins. Once a count reaches its allowance, every further failure locks that key for
`base_delay` x 2^(failures - allowance), at most `max_delay`. While a key is locked, every
login that involves it is refused with `TooManyAttempts` (HTTP 429 + Retry-After) without
checking the password, so the right password does not help an attacker either. A key is
forgotten after `window` without a failure (counted from the end of its lock); a successful
login clears its account and takes its own attempt back from the address.

An attempt is counted as failed when it starts and given back when it succeeds, so a burst
of concurrent guesses cannot all get through while the password hashes are being checked.
State is in memory: one server's view (each server of a cluster throttles on its own).
"""

from __future__ import annotations

import logging
import math
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta

from domain.errors import TooManyAttempts
from domain.ports import Clock

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ThrottlePolicy:
    account_attempts: int = 5  # failures an account may have before it is locked; 0: off
    address_attempts: int = 20  # the same for one client address (a NAT hides many users)
    base_delay_s: float = 1.0
    max_delay_s: float = 900.0
    window_s: float = 900.0
    max_keys: int = 100_000  # memory bound: the least recently failed keys are dropped first


@dataclass
class _Record:
    failures: int
    last_at: datetime
    locked_until: datetime | None = None


class LoginAttempt:
    """One login in progress; counted as failed until `succeeded()` is called."""

    def __init__(self, throttle: LoginThrottle, account: str | None, address: str | None) -> None:
        self._throttle = throttle
        self._account = account
        self._address = address

    def failed(self) -> None:
        self._throttle._report_failure(self._account, self._address)

    def succeeded(self) -> None:
        self._throttle._undo(self._account, self._address)


class LoginThrottle:
    def __init__(self, policy: ThrottlePolicy, clock: Clock) -> None:
        self._policy = policy
        self._clock = clock
        self._records: OrderedDict[str, _Record] = OrderedDict()

    def begin(self, email: str, address: str | None) -> LoginAttempt:
        """Raises TooManyAttempts while the account or the address is locked."""
        now = self._clock.now()
        account = self._key("account", email, self._policy.account_attempts)
        client = self._key("address", address, self._policy.address_attempts)
        keys = [k for k in (account, client) if k is not None]
        locks = [r.locked_until for k in keys if (r := self._current(k, now)) and r.locked_until]
        until = max((t for t in locks if t > now), default=None)
        if until is not None:
            wait = max(1, math.ceil((until - now).total_seconds()))
            raise TooManyAttempts(f"Too many failed logins; try again in {wait} s", wait)
        for key in keys:
            self._count(key, now)
        return LoginAttempt(self, account, client)

    @staticmethod
    def _key(kind: str, value: str | None, allowance: int) -> str | None:
        # An email is at most 254 characters: a longer one is cut, so memory stays bounded.
        return f"{kind}:{value[:320]}" if value and allowance > 0 else None

    def _allowance(self, key: str) -> int:
        p = self._policy
        return p.account_attempts if key.startswith("account:") else p.address_attempts

    def _current(self, key: str, now: datetime) -> _Record | None:
        record = self._records.get(key)
        if record is None:
            return None
        quiet_since = max(record.last_at, record.locked_until or record.last_at)
        if now - quiet_since > timedelta(seconds=self._policy.window_s):
            del self._records[key]
            return None
        return record

    def _count(self, key: str, now: datetime) -> None:
        record = self._current(key, now)
        if record is None:
            record = self._records[key] = _Record(0, now)
        record.failures += 1
        record.last_at = now
        self._records.move_to_end(key)
        allowance = self._allowance(key)
        if record.failures >= allowance:
            exponent = min(record.failures - allowance, 32)
            delay = min(self._policy.base_delay_s * 2**exponent, self._policy.max_delay_s)
            record.locked_until = now + timedelta(seconds=delay)
        while len(self._records) > self._policy.max_keys:
            self._records.popitem(last=False)

    def _report_failure(self, account: str | None, address: str | None) -> None:
        now = self._clock.now()
        locked = [
            f"{key} ({record.failures} failures, {_seconds(record.locked_until, now)} s)"
            for key in (account, address)
            if key is not None
            and (record := self._records.get(key)) is not None
            and record.locked_until is not None
            and record.locked_until > now
        ]
        if locked:
            log.warning("login throttled: %s locked", ", ".join(locked))

    def _undo(self, account: str | None, address: str | None) -> None:
        if account is not None:
            self._records.pop(account, None)
        record = self._records.get(address) if address is not None else None
        if record is not None and address is not None:
            record.failures = max(0, record.failures - 1)
            if record.failures < self._allowance(address):
                record.locked_until = None


def _seconds(until: datetime | None, now: datetime) -> int:
    return math.ceil((until - now).total_seconds()) if until else 0
