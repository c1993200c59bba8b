"""The usage counters: their stored names, the API document's names, and which show per day.

The one table of counter names; storage, limits, statistics and both APIs read it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

# stored name -> the API document's name, in the order the document lists them
SPEC_NAMES = {
    "messages_sent": "messagesSent",
    "messages_received": "messagesReceived",
    "media_sent": "mediaSent",
    "media_received": "mediaReceived",
    "media_bytes": "totalMediaSize",
    "api_calls": "apiCalls",
    "webhook_sent": "webhookSent",
}
USAGE_COUNTERS = tuple(SPEC_NAMES)

# The counters a statistics row per day shows (dailyStats).
DAILY_COUNTERS = ("messages_sent", "messages_received", "media_sent", "media_received")


def spec_usage(
    counters: Mapping[str, int], names: Sequence[str] = USAGE_COUNTERS
) -> dict[str, int]:
    """Counters under the API document's names; a counter never touched is 0."""
    return {SPEC_NAMES[name]: counters.get(name, 0) for name in names}


def summed(rows: Sequence[Mapping[str, int]]) -> dict[str, int]:
    """Every counter summed over `rows`."""
    return {name: sum(row.get(name, 0) for row in rows) for name in USAGE_COUNTERS}
