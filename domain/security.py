"""API keys: high-entropy random strings, looked up by their SHA-256 digest."""

from __future__ import annotations

import hashlib
import secrets

API_KEY_PREFIX = "wmx_"


def new_api_key() -> str:
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


def hash_api_key(api_key: str) -> str:
    # A fast digest is enough: the key has 256 bits of entropy, so it cannot be guessed
    # back from the digest, and lookups must stay cheap on every request.
    return hashlib.sha256(api_key.encode("utf-8")).hexdigest()
