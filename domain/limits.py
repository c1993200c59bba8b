"""Per-instance daily limits: their names, the counters they cap, and their validation."""

from __future__ import annotations

from typing import Any

from domain import validation as v
from domain.errors import ValidationFailed

# limit name -> the counter it caps (its API name is in domain.counters.SPEC_NAMES)
LIMITS = {
    "maxMessagesSent": "messages_sent",
    "maxMediaSent": "media_sent",
    "maxApiCalls": "api_calls",
}


def validate_limits(raw: dict[str, Any] | None) -> dict[str, int] | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise ValidationFailed("'limits' must be an object", {"field": "limits"})
    clean: dict[str, int] = {}
    for name, value in raw.items():
        if name not in LIMITS:
            allowed = ", ".join(LIMITS)
            raise ValidationFailed(
                f"Unknown limit '{name}'; expected {allowed}", {"field": f"limits.{name}"}
            )
        if value is None:
            continue  # null removes the cap
        checked = v.int_range(value, f"limits.{name}", 0, 10**12)
        clean[name] = checked if checked is not None else 0
    return clean
