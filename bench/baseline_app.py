"""The baseline of bench/send_text.py: a bare FastAPI app with one POST JSON endpoint.

It parses the same body as wamux's send endpoint into a pydantic model and answers
{"id": "..."}: no auth, no storage, no engine. What wamux costs beyond this is its own work.
Run the way `python -m api serve` runs wamux: uvicorn.run(app, host, port, log_level), one
worker, uvicorn's defaults for the loop and the HTTP parser.

    python bench/baseline_app.py --host 127.0.0.1 --port 8001
"""

from __future__ import annotations

import argparse
import uuid

import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel

app = FastAPI()


class SendText(BaseModel):
    phone: str
    message: str


@app.post("/send")
async def send(body: SendText) -> dict[str, str]:
    return {"id": uuid.uuid4().hex.upper()}


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args()
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level)


if __name__ == "__main__":
    main()
