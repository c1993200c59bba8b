"""The webhook client alone: aiohttp posting straight to a receiver, the figure the dispatcher
(bench/webhooks.py) and the send path (bench/send_text.py) are held against."""

from __future__ import annotations

import asyncio
import json
import time

import aiohttp

BASELINE_BODY = json.dumps({"event": "baseline", "data": {}, "timestamp": ""}).encode()


async def baseline_aiohttp(url: str, requests: int, parallel: int) -> float:
    started = time.monotonic()
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as client:
        gate = asyncio.Semaphore(parallel)

        async def one(n: int) -> None:
            async with gate:
                headers = {"x-webhook-id": f"baseline-aiohttp-{n}"}
                async with client.post(url, data=BASELINE_BODY, headers=headers) as r:
                    await r.read()
                    r.raise_for_status()

        await asyncio.gather(*(one(n) for n in range(requests)))
    return requests / (time.monotonic() - started)
