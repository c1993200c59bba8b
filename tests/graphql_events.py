"""The typed GraphQL events, selected whole, and read back in /events' JSON shape."""

from __future__ import annotations

from typing import Any

EVENT_FRAGMENT = """
fragment EventFields on Event {
  id type timestamp
  ... on MessageReceived { data {
    instanceId messageId from remoteJid fromMe body type timestamp hasMedia pushName status
    mediaUrl mimeType fileName caption quotedMessageId participant metadata
  } }
  ... on MessageSent { data {
    instanceId messageId to remoteJid fromMe body type timestamp hasMedia status
    mediaUrl mimeType fileName caption quotedMessageId
  } }
  ... on MessageStatus { data { instanceId messageId status from fromMe } }
  ... on Connected { data { instanceId } }
  ... on Disconnected { data { instanceId reason willReconnect } }
  ... on QrReceived { data { instanceId qrCode } }
  ... on LimitExceeded { data {
    instanceId exceededLimits usage { messagesSent mediaSent apiCalls }
  } }
  ... on WebhookUpdated { data { instanceId at: timestamp } }
}
"""


def as_rest(event: dict[str, Any]) -> dict[str, Any]:
    """A GraphQL event as /events shows it: the payload's JSON, field for field."""
    data = dict(event["data"])
    if "at" in data:  # webhook_updated's own timestamp (aliased: a DateTime, not Unix seconds)
        data["timestamp"] = data.pop("at")
    if "usage" in data:  # only the capped limits are counted
        data["usage"] = {k: v for k, v in data["usage"].items() if v is not None}
    return {**event, "data": data}
