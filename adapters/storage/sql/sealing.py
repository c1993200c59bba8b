"""Webhook secrets at rest: the signing secret and the custom headers (often a receiver's
`Authorization`) are kept in the `instances.webhook` JSON as one token sealed with the
SecretBox (a key derived from the server secret), never as plaintext.

Stored shape: the notify/retry settings as they are, plus `sealed` (a SecretBox token of
`{"secret": ..., "headers": {...}}`) when there is a secret or a header. Rows written before
this (plaintext `secret`/`headers`) are still read, and sealed by migration 0004.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from domain.ports import SecretBox

log = logging.getLogger(__name__)

_SEALED = "sealed"
_PLAIN = ("secret", "headers")


def has_plaintext(stored: dict[str, Any]) -> bool:
    """Whether a stored webhook JSON still holds a secret or headers in the clear."""
    return bool(stored.get("secret")) or bool(stored.get("headers"))


def seal_webhook(settings: dict[str, Any], box: SecretBox) -> dict[str, Any]:
    """The webhook settings (plaintext `secret`/`headers` included) -> what is stored."""
    stored = {k: v for k, v in settings.items() if k not in (*_PLAIN, _SEALED)}
    secret, headers = settings.get("secret"), dict(settings.get("headers") or {})
    if secret or headers:
        plain = json.dumps({"secret": secret, "headers": headers}, ensure_ascii=False)
        stored[_SEALED] = box.seal(plain)
    return stored


def open_webhook(stored: dict[str, Any], box: SecretBox) -> dict[str, Any]:
    """What is stored -> the webhook settings, with `secret` and `headers` in the clear."""
    settings = {k: v for k, v in stored.items() if k != _SEALED}
    token = stored.get(_SEALED)
    if token is None:  # nothing secret, or a row from before sealing
        settings.setdefault("secret", None)
        settings["headers"] = dict(settings.get("headers") or {})
        return settings
    opened = box.open(token)
    if opened is None:
        # Sealed under another server secret (JWT_SECRET changed): the values are lost;
        # deliveries go unsigned and without custom headers until the owner sets them again.
        log.warning("webhook secret and headers cannot be opened with this server secret")
        return {**settings, "secret": None, "headers": {}}
    values = json.loads(opened)
    return {**settings, "secret": values.get("secret"), "headers": values.get("headers") or {}}
