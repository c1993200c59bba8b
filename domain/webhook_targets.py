"""Where a webhook may be sent: the WEBHOOK_PRIVATE_URLS policy, checked on save and per delivery.

A webhook URL is a request this server makes on a user's behalf, so it must not let a user
reach what only the server can reach (loopback, private networks: an internal port scanner)
or the server itself (a delivery loop). The rule, written once:

- the server's own listening address and port are refused for everyone;
- loopback, private, link-local and shared (carrier-grade NAT) addresses are allowed when
  the policy is `allow`, never when it is `deny`, and with `admin` (the default) only on
  instances whose owner is an admin *at the time of the check* — the self-hosted case of a
  receiver on the same host or compose network.

The URL is checked when it is saved (a clear 400) and again before every delivery, after DNS
resolution; the transport then connects to exactly the address that was checked, so a name
that re-resolves elsewhere in between (DNS rebinding) gains nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from domain.entities import User
from domain.errors import ValidationFailed

if TYPE_CHECKING:
    from domain.ports import WebhookTargets


class PrivateTargets(StrEnum):
    """WEBHOOK_PRIVATE_URLS."""

    ADMIN = "admin"
    ALLOW = "allow"
    DENY = "deny"


class RefusalReason(StrEnum):
    OWN_ADDRESS = "own_address"
    PRIVATE_ADDRESS = "private_address"
    INVALID_URL = "invalid_url"
    UNRESOLVABLE = "unresolvable"


class TargetRefused(Exception):
    """A webhook URL that may not be posted to (or, for UNRESOLVABLE, cannot be yet)."""

    def __init__(self, reason: RefusalReason, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class WebhookTarget:
    """A URL and the one address it may be posted to: the one that passed the checks."""

    url: str
    address: str  # an IP literal; the transport connects here and resolves nothing itself


class WebhookTargetPolicy:
    def __init__(self, targets: WebhookTargets, private: PrivateTargets) -> None:
        self._targets = targets
        self.private = private

    @property
    def needs_owner(self) -> bool:
        """Whether `allows_private` looks at the owner (else a delivery need not read it)."""
        return self.private is PrivateTargets.ADMIN

    def allows_private(self, owner: User | None) -> bool:
        if self.private is PrivateTargets.ALLOW:
            return True
        if self.private is PrivateTargets.DENY:
            return False
        return owner is not None and owner.is_active and owner.is_admin

    async def check_saved(self, url: str | None, owner: User | None) -> None:
        """Raises ValidationFailed (400) naming the reason when `url` breaks the policy.

        A host that does not resolve yet is accepted (a compose service may not be up when
        its URL is saved): every delivery resolves and checks it again."""
        if not url:
            return
        try:
            await self._targets.resolve(url, allow_private=self.allows_private(owner))
        except TargetRefused as refused:
            if refused.reason is RefusalReason.UNRESOLVABLE:
                return
            raise ValidationFailed(
                f"'webhookUrl' is refused: {refused.message}",
                {"field": "webhookUrl", "reason": refused.reason.value},
            ) from None

    async def for_delivery(self, url: str, owner: User | None) -> WebhookTarget:
        """The checked address to post to now; raises TargetRefused."""
        return await self._targets.resolve(url, allow_private=self.allows_private(owner))
