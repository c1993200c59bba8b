"""Process environment for neonize, set before its Go library loads.

The Go runtime inside neonize copies the process environment once, when the shared library is
loaded (on the first `import neonize...`); a variable set afterwards is never seen by Go. So a
worker calls `prepare_environment()` before importing anything from neonize — `host.py` and
`translate.py` also call it at their top, before their own neonize imports.

This module must not import neonize.
"""

from __future__ import annotations

import os
import sys

# Without this, neonize adds a `<bot biz_bot="1"/>` node to every one-to-one message, which
# marks the account as a bot to WhatsApp. An operator who wants it sets the variable themselves.
BOT_TAG_VARIABLE = "NEONIZE_BOT_TAG"


def prepare_environment() -> None:
    """Defaults NEONIZE_BOT_TAG to `off` unless the operator set it. Idempotent."""
    os.environ.setdefault(BOT_TAG_VARIABLE, "off")


def neonize_loaded() -> bool:
    """Whether neonize's Go library is already loaded (too late to change its environment)."""
    return "neonize._binder" in sys.modules
