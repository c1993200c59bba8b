"""wrk for bench/send_text.py: runs bench/send_text.lua (exactly N POSTs, optionally paced)
and reads its exact counts and latency distribution back."""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from tests.realserver import RealServer  # noqa: E402

LUA = HERE / "send_text.lua"
# not a paired sandbox instance: the sandbox answers it with delivered and read receipts later
RECIPIENT = "79001234567"


class BenchError(Exception):
    pass


# --- wrk ----------------------------------------------------------------------------------------

_TIME_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_time(text: str) -> float:
    """wrk's '1.23ms' -> seconds."""
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text.strip())
    if not match:
        raise BenchError(f"cannot read wrk time {text!r}")
    return float(match.group(1)) * _TIME_UNITS[match.group(2)]


@dataclass
class WrkResult:
    target: str
    sent: int  # POSTs written
    messages: int  # POSTs answered
    ok: int  # ... with 200
    failed: int  # ... with anything else
    requests: int  # answers wrk counted (the same as messages)
    seconds: float
    rps: float  # wrk's Requests/sec
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    non_2xx: int  # wrk's "Non-2xx or 3xx responses" (status > 399)
    socket_errors: dict[str, int] = field(default_factory=dict)
    # bench/incoming.lua: first POST booked to last answer, by the script's own clock
    span_s: float | None = None

    @property
    def errors(self) -> int:
        return self.non_2xx + self.failed + sum(self.socket_errors.values())


def parse_wrk(target: str, out: str) -> WrkResult:
    match = re.search(r"^BENCH_RESULT (\{.*\})$", out, re.M)
    if not match:
        raise BenchError(f"wrk printed no BENCH_RESULT line:\n{out}")
    exact = json.loads(match.group(1))
    dist = dict(re.findall(r"^\s+(50|75|90|99)%\s+(\S+)\s*$", out, re.M))
    if set(dist) != {"50", "75", "90", "99"}:
        raise BenchError(f"no latency distribution in wrk's output:\n{out}")
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", out, re.M)
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    )
    counts = [int(x) for x in socket_errors.groups()] if socket_errors else [0, 0, 0, 0]
    errs = dict(zip(("connect", "read", "write", "timeout"), counts, strict=True))
    return WrkResult(
        target=target,
        sent=exact["posts_sent"],
        messages=exact["post_answers"],
        ok=exact["post_ok"],
        failed=exact["post_failed"],
        requests=exact["requests"],
        seconds=exact["duration_us"] / 1e6,
        rps=float(rps.group(1)) if rps else 0.0,
        p50_ms=round(parse_time(dist["50"]) * 1e3, 3),
        p90_ms=round(parse_time(dist["90"]) * 1e3, 3),
        p99_ms=round(parse_time(dist["99"]) * 1e3, 3),
        max_ms=exact["latency_us"]["max"] / 1e3,
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=errs,
        span_s=exact["paced_ms"] / 1e3 if "paced_ms" in exact else None,
    )


def _threads_of(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/task"))
    except OSError:
        return 0


def run_wrk(
    wrk: str,
    target: str,
    server: RealServer,
    path: str,
    api_key: str | None,
    args: argparse.Namespace,
    *,
    messages: int | None = None,
    connections: int | None = None,
    threads: int | None = None,
    pace_ms: int = 0,
) -> tuple[WrkResult, str]:
    messages = args.messages if messages is None else messages
    threads = args.threads if threads is None else threads
    connections = args.connections if connections is None else connections
    script_args = [path, RECIPIENT, api_key or "-", str(messages), str(threads), str(pace_ms)]
    return run_script(
        wrk, target, server.base_url, LUA, script_args, threads, connections, args.max_seconds
    )


def run_script(
    wrk: str,
    target: str,
    base_url: str,
    lua: Path,
    script_args: list[str],
    threads: int,
    connections: int,
    max_seconds: int,
) -> tuple[WrkResult, str]:
    """wrk with a script that stops its threads itself (prints BENCH_THREAD_DONE and
    BENCH_RESULT like bench/send_text.lua), its THREADS argument equal to `threads`."""
    cmd = [
        wrk,
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max_seconds}s",
        "--timeout",
        "10s",
        "--latency",
        "-s",
        str(lua),
        base_url,
        "--",
        *script_args,
    ]
    errfile = tempfile.TemporaryFile("w+")  # a file, so a chatty stderr cannot block wrk
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=errfile, text=True)
    # wrk's main thread sleeps for the whole -d even once every worker thread has stopped;
    # a SIGINT wakes it up, but it only reaches that sleep once the workers are gone.
    watchdog = threading.Timer(max_seconds + 30, proc.kill)
    watchdog.start()
    lines: list[str] = []
    done = 0
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("BENCH_THREAD_DONE"):
                done += 1
                if done == threads:
                    deadline = time.monotonic() + 10
                    while _threads_of(proc.pid) > 1 and time.monotonic() < deadline:
                        time.sleep(0.001)
                    proc.send_signal(signal.SIGINT)
        proc.wait(30)
    finally:
        watchdog.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        errfile.seek(0)
        stderr = errfile.read()
        errfile.close()
    out = "".join(lines)
    if proc.returncode != 0:
        raise BenchError(f"wrk failed ({proc.returncode}):\n{out}\n{stderr}")
    if stderr.strip():
        print(f"wrk ({target}) said on stderr:\n{stderr}", file=sys.stderr)
    return parse_wrk(target, out), out
