"""Real NewAClients on this offline machine, in a child process (Go may end its process).

The clients dial through a SOCKS proxy address on 127.0.0.1 where nothing listens, so the dial
fails at once with "connection refused" and nothing leaves the machine (not even a DNS query:
SOCKS5 resolves names at the proxy).
"""

from __future__ import annotations

import asyncio
import json
import socket
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = r"""
import asyncio, json, sys
from pathlib import Path
from adapters.transport.neonize.host import NeonizeHost, RetryPolicy

async def main(data_dir, proxy):
    events = []
    async def emit(message):
        events.append(message)
        print(json.dumps(message), flush=True)
    host = NeonizeHost(Path(data_dir), emit, max_clients=2, proxy=proxy,
                       retry=RetryPolicy(initial_s=0.05, max_s=0.2, jitter_s=0.05))
    def count(instance, kind):
        return sum(1 for e in events if e["instance"] == instance and e["type"] == kind)
    async def until(check):
        while not check():
            await asyncio.sleep(0.01)
    # two instances connect and fail side by side: lifecycle calls must not race in Go
    await asyncio.gather(host.call("start", "a", {}), host.call("start", "b", {}))
    await asyncio.wait_for(until(lambda: count("a", "reconnecting") >= 2
                                 and count("b", "reconnecting") >= 2), 60)
    store = Path(data_dir) / "a" / "device.db"
    await host.call("start", "a", {})  # already retrying: nothing new
    try:
        await host.call("start", "c", {})
        full = "accepted"
    except Exception as exc:
        full = type(exc).__name__ + ": " + str(exc)
    print(json.dumps({"kind": "check", "storeCreated": store.exists(), "third": full}),
          flush=True)
    for _ in range(3):  # stop/start cycles while the other instance keeps retrying
        await host.call("stop", "a", {})
        await host.call("start", "a", {})
    await host.call("destroy", "a", {})
    await host.call("logout", "b", {})
    print(json.dumps({"kind": "check", "storeRemoved": not store.exists(),
                      "dirRemoved": not store.parent.exists(),
                      "instances": host.instance_ids()}), flush=True)
    await host.close()

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_a_failed_first_connect_reports_the_dial_error_and_backs_off(tmp_path: Path) -> None:
    port = _closed_port()
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        SCRIPT,
        str(tmp_path / "instances"),
        f"socks5://127.0.0.1:{port}",
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(child.communicate(), 120)
    assert child.returncode == 0, err.decode()[-3000:]
    lines = [json.loads(line) for line in out.decode().splitlines() if line.startswith("{")]
    checks = {k: v for line in lines if line["kind"] == "check" for k, v in line.items()}
    assert checks == {
        "kind": "check",
        "storeCreated": True,
        "third": "EngineFailure: this worker already hosts 2 clients",
        "storeRemoved": True,
        "dirRemoved": True,
        "instances": ["b"],
    }
    b = [(e["type"], e["data"]) for e in lines if e.get("instance") == "b"]
    assert b[0] == ("connecting", {})
    kind, data = b[1]
    assert kind == "disconnected" and data["willReconnect"] is True
    assert data["reason"].startswith("connect_failed: ")
    assert f"127.0.0.1:{port}" in data["reason"] and "connection refused" in data["reason"]
    kind, data = b[2]
    assert kind == "reconnecting" and data["attempt"] == 1 and data["delayMs"] > 0
    assert b[3][0] == "disconnected"  # the retry dialled again
    assert ("reconnecting", 2) in [(k, d.get("attempt")) for k, d in b]
    assert b[-1] == ("logged_out", {"reason": "logout requested"})
    a = [e["type"] for e in lines if e.get("instance") == "a"]
    assert a.count("connecting") == 4  # the first start and three restarts
