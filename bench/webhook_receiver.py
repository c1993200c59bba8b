"""The webhook receiver of bench/webhooks.py, in a process of its own.

A minimal keep-alive HTTP/1.1 server on asyncio streams: records when each webhook arrived
(wall clock, to compare with the event's own timestamp), its X-Webhook-Id and event, counts
repeated ids, and can hold its answers. It runs apart from the bench's HTTP client so the
two never share an interpreter (and its GIL). Control, under /_bench/:

    GET  /healthz                 200 once listening
    POST /_bench/hold, /_bench/release
    GET  /_bench/count?event=E    {"count": deliveries of E, "duplicates": n}
    GET  /_bench/arrivals         [[arrived_at, id, event, timestamp], ...]

    python bench/webhook_receiver.py --host 127.0.0.1 --port 8002
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections import Counter
from urllib.parse import parse_qs, urlsplit


class Receiver:
    def __init__(self) -> None:
        self.open = asyncio.Event()
        self.open.set()
        self.arrivals: list[tuple[float, str, str, str]] = []
        self.ids: set[str] = set()
        self.per_event: Counter[str] = Counter()
        self.duplicates = 0

    def record(self, delivery_id: str, body: bytes) -> None:
        arrived = time.time()
        if delivery_id in self.ids:
            self.duplicates += 1
            # Which one, and when: what a failed run needs to be explained.
            print(f"DUP {arrived:.3f} {delivery_id} {body[:200]!r}", file=sys.stderr, flush=True)
            return
        self.ids.add(delivery_id)
        payload = json.loads(body) if body else {}
        event = str(payload.get("event", ""))
        self.per_event[event] += 1
        self.arrivals.append((arrived, delivery_id, event, str(payload.get("timestamp", ""))))

    def control(self, method: str, target: str) -> tuple[int, object]:
        parts = urlsplit(target)
        if parts.path == "/healthz":
            return 200, {"status": "ok"}
        if method == "POST" and parts.path == "/_bench/hold":
            self.open.clear()
            return 200, {}
        if method == "POST" and parts.path == "/_bench/release":
            self.open.set()
            return 200, {}
        if parts.path == "/_bench/count":
            event = parse_qs(parts.query).get("event", [""])[0]
            return 200, {"count": self.per_event[event], "duplicates": self.duplicates}
        if parts.path == "/_bench/arrivals":
            return 200, self.arrivals
        return 404, {}

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, target, _ = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    if ":" in line:
                        name, _, value = line.partition(":")
                        headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                if target == "/healthz" or target.startswith("/_bench/"):
                    status, answer = self.control(method, target)
                    content = json.dumps(answer).encode()
                else:
                    await self.open.wait()
                    self.record(headers.get("x-webhook-id", ""), body)
                    status, content = 200, b""
                writer.write(
                    f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(content)}\r\n\r\n".encode()
                    + content
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
            pass
        finally:
            writer.close()


async def main(host: str, port: int) -> None:
    receiver = Receiver()
    server = await asyncio.start_server(receiver.serve, host, port, backlog=1024)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    try:
        asyncio.run(main(args.host, args.port))
    except KeyboardInterrupt:
        pass
