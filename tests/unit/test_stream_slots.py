"""Open subscriptions per user: a slot is held while a stream runs, given back when it ends."""

from __future__ import annotations

import pytest

from domain.errors import LimitExceeded
from domain.streams import StreamSlots


def test_a_user_holds_at_most_the_set_number_of_streams() -> None:
    slots = StreamSlots(2)
    with slots.hold("ann"), slots.hold("ann"):
        with pytest.raises(LimitExceeded) as refused, slots.hold("ann"):
            pass
        assert refused.value.details == {"limit": "maxSubscriptions", "max": 2}
        assert "at most 2" in refused.value.message
        with slots.hold("bob"):  # another user has their own slots
            assert slots.open_for("bob") == 1
        assert slots.open_for("ann") == 2
    assert slots.open_for("ann") == 0


def test_a_slot_comes_back_when_the_stream_fails() -> None:
    slots = StreamSlots(1)
    with pytest.raises(RuntimeError), slots.hold("ann"):
        raise RuntimeError("the socket went away")
    with slots.hold("ann"):
        assert slots.open_for("ann") == 1


def test_no_limit() -> None:
    slots = StreamSlots(None)
    with slots.hold("ann"), slots.hold("ann"), slots.hold("ann"):
        assert slots.open_for("ann") == 3
