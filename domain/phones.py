"""Phone numbers and JIDs: the forms users type, normalised to what WhatsApp uses."""

from __future__ import annotations

import re

from domain.errors import ValidationFailed

_USER_SERVER = "s.whatsapp.net"
_GROUP_SERVER = "g.us"
_LID_SERVER = "lid"  # WhatsApp's hidden-number addressing; the engine maps it to a phone JID
_SEPARATORS = re.compile(r"[\s\-().]")
# ASCII only: str.isdigit() also takes fullwidth (７９) and Arabic-Indic (٧٩) digits, which
# made one number into several chats.
_DIGITS = re.compile(r"[0-9]+")


def normalise_phone(value: str, field: str = "phone") -> str:
    """'+7 900 123-45-67' -> '79001234567'. Raises ValidationFailed on anything else."""
    digits = _SEPARATORS.sub("", value.strip())
    if digits.startswith("+"):
        digits = digits[1:]
    if not _DIGITS.fullmatch(digits) or not 6 <= len(digits) <= 15:
        raise ValidationFailed(
            f"'{field}' must be a phone number: 6-15 digits, optionally with +, spaces, dashes",
            {"field": field, "value": value},
        )
    return digits


def to_jid(value: str, field: str = "phone") -> str:
    """A phone number or a JID -> a JID (`<digits>@s.whatsapp.net`, `<id>@g.us` or
    `<digits>@lid`: WhatsApp addresses many chats by LID, so replies to them must work)."""
    text = value.strip()
    if "@" in text:
        user, _, server = text.partition("@")
        if server in (_USER_SERVER, _LID_SERVER) and _DIGITS.fullmatch(user):
            return text
        if server == _GROUP_SERVER and re.fullmatch(r"[0-9]+(-[0-9]+)?", user):
            return text
        raise ValidationFailed(
            f"'{field}' must be a phone number, <digits>@s.whatsapp.net, <digits>@lid or <id>@g.us",
            {"field": field, "value": value},
        )
    return f"{normalise_phone(text, field)}@{_USER_SERVER}"
