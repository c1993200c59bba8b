"""Pairing by code, for a phone that cannot scan the QR (Link with phone number)."""

from __future__ import annotations

import logging

from domain.entities import InstanceStatus, Principal
from domain.errors import Conflict
from domain.instances import Instances
from domain.numbers import international_phone
from domain.ports import Connections

log = logging.getLogger(__name__)


class Pairing:
    def __init__(self, instances: Instances, connections: Connections) -> None:
        self._instances = instances
        self._connections = connections

    async def pairing_code(self, principal: Principal, instance_id: str, phone: object) -> str:
        """The code (`XXXX-XXXX`) the owner types on the phone whose number is `phone`.

        Only while the instance waits to be paired, i.e. shows a QR code: WhatsApp hands
        out a code on the same login attempt the QR codes belong to."""
        digits = international_phone(phone, "phone")
        instance = await self._instances.get(principal, instance_id)
        if instance.status is not InstanceStatus.QR:
            raise Conflict(
                f"Instance is '{instance.status.value}', not waiting to be paired; a pairing "
                "code is only given while the instance shows a QR code (reconnect a logged-out "
                "or disconnected instance first)",
                {"instanceStatus": instance.status.value},
            )
        code = await self._connections.engine(instance).pairing_code(instance_id, digits)
        log.info("pairing code issued for instance %s", instance_id)
        return code
