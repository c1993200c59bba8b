"""The sandbox engine: a simulated WhatsApp network inside the server."""

from adapters.transport.sandbox.engine import SandboxEngine

__all__ = ["SandboxEngine"]
