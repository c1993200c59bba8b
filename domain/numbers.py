"""Phone numbers on WhatsApp: the number check, and the international form it needs."""

from __future__ import annotations

from collections.abc import Sequence

from domain.entities import InstanceStatus, Principal
from domain.errors import Conflict, EngineFailure, ValidationFailed
from domain.instances import Instances
from domain.phones import normalise_phone
from domain.ports import Connections
from domain.wire import NumberCheck

MAX_NUMBERS_PER_CHECK = 50
_USER_SUFFIX = "@s.whatsapp.net"


def international_phone(value: object, field: str = "phone") -> str:
    """'+49 151 2345-678' -> '491512345678': digits, country code first, no leading 0.

    A user JID (`<digits>@s.whatsapp.net`) is accepted too, for callers that hold one."""
    if not isinstance(value, str):
        raise ValidationFailed(f"'{field}' must be a string", {"field": field})
    text = value.strip().removesuffix(_USER_SUFFIX)
    digits = normalise_phone(text, field)
    if digits.startswith("0"):
        # A national number ("0151...") would reach a different person abroad, or nobody.
        raise ValidationFailed(
            f"'{field}' must be in international format: the country code first, no leading 0",
            {"field": field, "value": value},
        )
    return digits


def phones_to_check(values: Sequence[object]) -> list[str]:
    """1..50 numbers, each normalised; duplicates (after normalising) are checked once.

    Every invalid entry is named in one error, so a caller fixes them all at once."""
    if not 1 <= len(values) <= MAX_NUMBERS_PER_CHECK:
        raise ValidationFailed(
            f"'phones' must hold 1 to {MAX_NUMBERS_PER_CHECK} numbers, not {len(values)}",
            {"field": "phones", "count": len(values)},
        )
    phones: list[str] = []
    invalid: list[str] = []
    for value in values:
        try:
            digits = international_phone(value, "phones")
        except ValidationFailed:
            invalid.append(str(value))
            continue
        if digits not in phones:
            phones.append(digits)
    if invalid:
        listed = ", ".join(f"'{x}'" for x in invalid)
        raise ValidationFailed(
            f"Not phone numbers in international format (6-15 digits, country code first): "
            f"{listed}",
            {"field": "phones", "invalid": invalid},
        )
    return phones


class NumberChecks:
    """Which numbers have WhatsApp, asked through a connected instance."""

    def __init__(self, instances: Instances, connections: Connections) -> None:
        self._instances = instances
        self._connections = connections

    async def check(
        self, principal: Principal, instance_id: str, phones: Sequence[object]
    ) -> list[NumberCheck]:
        wanted = phones_to_check(phones)
        instance = await self._instances.get(principal, instance_id)
        if instance.status is not InstanceStatus.CONNECTED:
            raise Conflict(
                f"Instance {instance_id} is not connected (status: {instance.status.value}); "
                "numbers are checked through a connected WhatsApp account",
                {"instanceStatus": instance.status.value},
            )
        found = await self._connections.engine(instance).check_numbers(instance_id, wanted)
        by_phone = {item.phone: item for item in found}
        missing = [p for p in wanted if p not in by_phone]
        if missing:
            # An engine that skips a number must not make it look like "no WhatsApp".
            raise EngineFailure(
                f"The engine gave no answer for {', '.join(missing)}", {"missing": missing}
            )
        return [by_phone[p] for p in wanted]
