"""Checks shared by the webhook tests: exact body bytes, signatures, and a Node.js verifier."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

from tests.webhook_receiver import Received

ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
# Events a webhook may carry (webhook_test is only sent by POST .../webhooks/test).
WEBHOOK_EVENTS = (
    "message_received",
    "message_sent",
    "message_status",
    "connected",
    "disconnected",
    "qr_received",
    "limit_exceeded",
    "webhook_updated",
)

# The spec's Express example, verbatim in its logic: a string body is hashed as is, a parsed
# one is re-stringified. Run on both, for every captured request.
NODE_VERIFIER = r"""
const crypto = require('crypto');
const fs = require('fs');

function verifyWebhookSignature(body, signature, secret) {
  const computedSignature = crypto
    .createHmac('sha256', secret)
    .update(typeof body === 'string' ? body : JSON.stringify(body))
    .digest('hex');
  const a = Buffer.from(signature);
  const b = Buffer.from(computedSignature);
  return a.length === b.length && crypto.timingSafeEqual(a, b);
}

const cases = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const results = cases.map((c) => {
  // What Express hands over: the raw bytes as UTF-8 text, or express.json()'s parse of it.
  const rawString = Buffer.from(c.body_b64, 'base64').toString('utf8');
  const parsed = JSON.parse(rawString);
  return {
    id: c.id,
    raw: verifyWebhookSignature(rawString, c.signature, c.secret),
    reparsed: verifyWebhookSignature(parsed, c.signature, c.secret),
    explicitRaw:
      crypto.createHmac('sha256', c.secret).update(rawString).digest('hex') === c.signature,
    explicitReparsed:
      crypto.createHmac('sha256', c.secret).update(JSON.stringify(JSON.parse(rawString)))
        .digest('hex') === c.signature,
    stringifyIsIdentity: JSON.stringify(parsed) === rawString,
    byteLength: Buffer.byteLength(rawString, 'utf8'),
  };
});
process.stdout.write(JSON.stringify(results));
"""


def hmac_hex(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def js_text(value: Any) -> bytes:
    """What JavaScript's JSON.stringify gives for JSON data, as UTF-8 bytes."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def check_body(request: Received) -> dict[str, Any]:
    """Asserts the body is exactly {"event","data","timestamp"} in compact JS form; returns it."""
    raw = request.body
    text = raw.decode("utf-8")  # strict: the bytes are valid UTF-8
    parsed = json.loads(text)
    assert list(parsed) == ["event", "data", "timestamp"], text
    assert raw == js_text(parsed), f"not JSON.stringify's text: {text!r}"
    assert ISO_MS.match(parsed["timestamp"]), parsed["timestamp"]
    assert isinstance(parsed["data"], dict) and parsed["data"]["instanceId"], text
    assert request.event == parsed["event"], (request.headers, text)
    assert request.method == "POST"
    content_type = request.headers.get("Content-Type") or ""
    assert content_type.startswith("application/json"), content_type
    assert request.headers.get("Content-Length") == str(len(raw))
    return dict(parsed)


def node_verify(tmp_path: Path, cases: list[tuple[Received, str]]) -> list[dict[str, Any]]:
    """Runs NODE_VERIFIER on (request, secret) pairs; returns Node's verdict per request."""
    node = shutil.which("node")
    assert node is not None, "node is required for the signature cross-check"
    script = tmp_path / "verify-webhooks.js"
    script.write_text(NODE_VERIFIER, "utf-8")
    data = tmp_path / "webhook-cases.json"
    data.write_text(
        json.dumps(
            [
                {
                    "id": r.id,
                    "body_b64": base64.b64encode(r.body).decode("ascii"),
                    "signature": r.headers["X-Webhook-Signature"],
                    "secret": secret,
                }
                for r, secret in cases
            ]
        ),
        "utf-8",
    )
    done = subprocess.run(
        [node, str(script), str(data)], capture_output=True, timeout=30, check=False
    )
    assert done.returncode == 0, done.stderr.decode("utf-8", "replace")
    results = json.loads(done.stdout)
    assert len(results) == len(cases)
    return list(results)
