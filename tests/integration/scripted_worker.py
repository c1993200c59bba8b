"""An engine worker process whose host is scripted instead of neonize.

It runs the real worker loop (adapters/transport/neonize/worker.py) in a real process over
the real socket; only the WhatsApp side is a stand-in, scripted by instance id:
- every instance: `start` makes its device dir and emits connecting, then a dial failure;
- `slow*`: `contacts` never answers (a call timeout);
- `crash*`: `add_contact` ends the process the way a Go fatal error does;
- `garbage*`: `contacts` writes a frame that is not JSON onto the socket.
It also prints to stdout, which must end up in the server's log, not on the socket.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path
from typing import Any

from adapters.transport.neonize import protocol
from adapters.transport.neonize.worker import Emit, Host, run
from domain.errors import Conflict

DIAL_ERROR = "failed to dial whatsapp web websocket: scripted"


class ScriptedHost:
    def __init__(self, instances_dir: Path, emit: Emit, fd: int) -> None:
        self._dir = instances_dir
        self._fd = fd
        self._emit = emit
        self._instances: set[str] = set()

    async def call(self, method: str, instance: str | None, args: dict[str, Any]) -> Any:
        assert instance is not None
        if method == "start":
            self._instances.add(instance)
            (self._dir / instance).mkdir(parents=True, exist_ok=True)
            os.write(1, f"go: dialing for {instance}\n".encode())
            await self._emit(protocol.event(instance, "connecting"))
            await self._emit(
                protocol.event(
                    instance, "disconnected", {"reason": DIAL_ERROR, "willReconnect": True}
                )
            )
            return None
        if method in ("stop", "destroy"):
            self._instances.discard(instance)
            return None
        if method == "logout":
            self._instances.discard(instance)
            await self._emit(protocol.event(instance, "logged_out", {"reason": "scripted"}))
            return None
        if method == "contacts":
            if instance.startswith("slow"):
                await asyncio.Event().wait()
            if instance.startswith("garbage"):
                os.write(self._fd, b"\x00\x00\x00\x05hello")
            return [{"jid": "4915@s.whatsapp.net", "name": "Ana", "pushName": None}]
        if method == "add_contact" and instance.startswith("crash"):
            sys.stderr.write("fatal error: concurrent map writes\n")
            sys.stderr.flush()
            os._exit(2)
        if method == "pairing_code":
            raise Conflict("no QR phase: the first connect failed")
        if method == "check_numbers":
            return [
                {"phone": p, "jid": f"{p}@s.whatsapp.net", "exists": int(p[-1]) % 2 == 0}
                for p in args["phones"]
            ]
        return None

    def instance_ids(self) -> list[str]:
        return sorted(self._instances)

    async def close(self) -> None:
        self._instances.clear()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--fd", type=int, required=True)
    parser.add_argument("--worker-id", required=True)
    parser.add_argument("--instances-dir", type=Path, required=True)
    parser.add_argument("--max-clients", type=int, required=True)
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args()

    def make(emit: Emit) -> Host:
        return ScriptedHost(args.instances_dir, emit, args.fd)

    return run(args.fd, args.instances_dir, args.max_clients, args.worker_id, args.log_level, make)


if __name__ == "__main__":
    raise SystemExit(main())
