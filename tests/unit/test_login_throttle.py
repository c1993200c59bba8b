"""Login throttling on the injected clock: growing delays per account and per address."""

from __future__ import annotations

import asyncio
import logging

import pytest

from domain.errors import TooManyAttempts, Unauthorized
from domain.login_throttle import LoginThrottle, ThrottlePolicy
from domain.users import NewUser
from tests.fakes import FakeClock
from tests.unit.conftest import Core

POLICY = ThrottlePolicy(
    account_attempts=3, address_attempts=5, base_delay_s=1, max_delay_s=8, window_s=60
)


def fail(throttle: LoginThrottle, email: str, address: str | None = None) -> None:
    throttle.begin(email, address).failed()


def retry_after(throttle: LoginThrottle, email: str, address: str | None = None) -> int:
    with pytest.raises(TooManyAttempts) as refused:
        throttle.begin(email, address)
    return refused.value.retry_after_s


def test_delays_grow_after_the_allowance_and_stop_at_the_maximum() -> None:
    clock = FakeClock()
    throttle = LoginThrottle(POLICY, clock)
    for _ in range(3):
        fail(throttle, "a@example.com")
    delays = []
    for _ in range(5):
        wait = retry_after(throttle, "a@example.com")
        delays.append(wait)
        clock.advance(seconds=wait)
        fail(throttle, "a@example.com")  # one more wrong guess once the lock ends
    assert delays == [1, 2, 4, 8, 8]


def test_a_locked_account_is_refused_from_every_address_and_others_are_not() -> None:
    throttle = LoginThrottle(POLICY, FakeClock())
    for n in range(3):
        fail(throttle, "a@example.com", f"10.0.0.{n}")
    assert retry_after(throttle, "a@example.com", "192.0.2.9") == 1
    throttle.begin("b@example.com", "10.0.0.1").succeeded()


def test_an_address_is_locked_across_accounts() -> None:
    throttle = LoginThrottle(POLICY, FakeClock())
    for n in range(5):
        fail(throttle, f"user{n}@example.com", "10.0.0.1")
    assert retry_after(throttle, "someone-new@example.com", "10.0.0.1") == 1
    throttle.begin("someone-new@example.com", "10.0.0.2").succeeded()


def test_success_clears_the_account_and_gives_its_attempt_back_to_the_address() -> None:
    throttle = LoginThrottle(POLICY, FakeClock())
    fail(throttle, "a@example.com", "10.0.0.1")
    fail(throttle, "a@example.com", "10.0.0.1")
    throttle.begin("a@example.com", "10.0.0.1").succeeded()
    # the account starts afresh: two more failures are still within its allowance
    fail(throttle, "a@example.com", "10.0.0.1")
    fail(throttle, "a@example.com", "10.0.0.1")
    throttle.begin("a@example.com", "10.0.0.1").succeeded()
    # the address has 4 failures (2 + 2): one more locks it
    fail(throttle, "b@example.com", "10.0.0.1")
    assert retry_after(throttle, "c@example.com", "10.0.0.1") == 1


def test_a_key_is_forgotten_after_a_quiet_window() -> None:
    clock = FakeClock()
    throttle = LoginThrottle(POLICY, clock)
    for _ in range(4):
        clock.advance(seconds=5)
        fail(throttle, "a@example.com")
    clock.advance(seconds=2 + 59)  # the 2 s lock, then not quite a quiet window
    fail(throttle, "a@example.com")
    assert retry_after(throttle, "a@example.com") == 4  # still growing
    clock.advance(seconds=4 + 61)
    for _ in range(2):  # forgotten: a new allowance
        fail(throttle, "a@example.com")
    throttle.begin("a@example.com", None).failed()
    assert retry_after(throttle, "a@example.com") == 1


def test_zero_attempts_turns_a_kind_of_key_off() -> None:
    throttle = LoginThrottle(ThrottlePolicy(account_attempts=0, address_attempts=2), FakeClock())
    for n in range(10):
        fail(throttle, "a@example.com", f"10.0.0.{n}")  # no account throttling
    fail(throttle, "a@example.com", "10.9.9.9")
    fail(throttle, "b@example.com", "10.9.9.9")
    assert retry_after(throttle, "c@example.com", "10.9.9.9") == 1


def test_memory_is_bounded() -> None:
    throttle = LoginThrottle(ThrottlePolicy(account_attempts=1, max_keys=10), FakeClock())
    fail(throttle, "first@example.com", None)
    for n in range(20):
        fail(throttle, f"u{n}@example.com", None)
    throttle.begin("first@example.com", None)  # the oldest record was dropped


async def test_the_right_password_during_a_lockout_is_refused(core: Core) -> None:
    # the default policy: 5 failures per account
    await core.accounts.register(NewUser("a@example.com", "password-123"), check_password=True)
    for _ in range(5):
        with pytest.raises(Unauthorized):
            await core.accounts.login("A@example.com ", "wrong-password", "10.0.0.1")
    with pytest.raises(TooManyAttempts) as refused:
        await core.accounts.login("a@example.com", "password-123", "10.0.0.1")
    assert refused.value.details == {"retryAfter": 1}
    core.clock.advance(seconds=1)
    result = await core.accounts.login("a@example.com", "password-123", "10.0.0.1")
    assert result.user.email == "a@example.com"


async def test_concurrent_guesses_cannot_outrun_the_count(core: Core) -> None:
    """Each attempt is counted when it starts, so a burst does not slip through while the
    password hashes are being checked."""
    await core.accounts.register(NewUser("a@example.com", "password-123"), check_password=True)
    outcomes = await asyncio.gather(
        *(core.accounts.login("a@example.com", f"guess-{n}", f"10.1.{n}.1") for n in range(20)),
        return_exceptions=True,
    )
    assert sum(isinstance(o, Unauthorized) for o in outcomes) == 5
    assert sum(isinstance(o, TooManyAttempts) for o in outcomes) == 15


def test_a_lock_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    throttle = LoginThrottle(POLICY, FakeClock())
    with caplog.at_level(logging.WARNING, logger="domain.login_throttle"):
        fail(throttle, "a@example.com")
        fail(throttle, "a@example.com")
        assert caplog.records == []
        fail(throttle, "a@example.com")
    [record] = caplog.records
    assert record.levelno == logging.WARNING
    assert "account:a@example.com (3 failures, 1 s)" in record.getMessage()
