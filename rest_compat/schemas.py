"""Request bodies of the REST layer (shapes and types only; rules live in the use cases)."""

from __future__ import annotations

import dataclasses
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    model_validator,
)

from domain.contacts import ContactInput
from domain.instances import InstanceChanges, NewInstance, WebhookSettingsInput
from domain.sandbox import SimulatedMedia
from domain.users import NewUser, UserChanges


class Body(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class LoginBody(Body):
    email: StrictStr = Field(max_length=254)
    password: StrictStr = Field(max_length=256)


class NewUserBody(Body):
    email: StrictStr
    password: StrictStr
    first_name: StrictStr | None = Field(None, alias="firstName")
    last_name: StrictStr | None = Field(None, alias="lastName")
    role: StrictStr = "user"

    def to_domain(self) -> NewUser:
        return NewUser(self.email, self.password, self.first_name, self.last_name, self.role)


class UserChangesBody(Body):
    email: StrictStr | None = None
    password: StrictStr | None = None
    first_name: StrictStr | None = Field(None, alias="firstName")
    last_name: StrictStr | None = Field(None, alias="lastName")
    role: StrictStr | None = None
    is_active: StrictBool | None = Field(None, alias="isActive")

    def to_domain(self) -> UserChanges:
        return UserChanges(
            self.email, self.password, self.first_name, self.last_name, self.role, self.is_active
        )


class ExactBody(Body):
    """A body where a field this endpoint does not take is refused, naming it, not ignored.

    Used where a client may reasonably send a field that means something elsewhere (the flat
    create fields, `engine`): silently dropping it would report success for a change not made.
    """

    @model_validator(mode="before")
    @classmethod
    def _refuse_unknown(cls, data: Any) -> Any:
        if isinstance(data, dict):
            known = {f.alias or name for name, f in cls.model_fields.items()}
            known |= set(cls.model_fields)
            unknown = sorted(str(k) for k in data if k not in known)
            if unknown:
                accepted = ", ".join(sorted(f.alias or n for n, f in cls.model_fields.items()))
                raise ValueError(
                    f"unknown field(s) {', '.join(unknown)}; this body takes {accepted}"
                )
        return data


class WebhookSettingsBody(ExactBody):
    notify_received: StrictBool | None = Field(None, alias="notifyReceived")
    notify_sent: StrictBool | None = Field(None, alias="notifySent")
    notify_delivery: StrictBool | None = Field(None, alias="notifyDelivery")
    notify_read: StrictBool | None = Field(None, alias="notifyRead")
    max_retries: StrictInt | None = Field(None, alias="maxRetries")
    retry_interval: StrictInt | None = Field(
        None, alias="retryInterval", description="milliseconds"
    )
    secret: StrictStr | None = None
    headers: dict[StrictStr, StrictStr] | None = None
    events: list[StrictStr] | None = Field(
        None,
        description="event kinds sent as webhooks (default: the document's eight); adds "
        "message_reaction, message_edited, message_revoked, poll_vote, presence_update, "
        "group_update",
    )

    def to_domain(self) -> WebhookSettingsInput:
        return WebhookSettingsInput(
            notify_received=self.notify_received,
            notify_sent=self.notify_sent,
            notify_delivery=self.notify_delivery,
            notify_read=self.notify_read,
            max_retries=self.max_retries,
            retry_interval=self.retry_interval,
            secret=self.secret,
            headers=self.headers,
            events=self.events,
        )


class FlatWebhookFields(BaseModel):
    """The webhook settings as flat fields, as create takes them (and PUT too)."""

    notify_received: StrictBool | None = Field(None, alias="notifyReceived")
    notify_sent: StrictBool | None = Field(None, alias="notifySent")
    notify_delivery: StrictBool | None = Field(None, alias="notifyDelivery")
    notify_read: StrictBool | None = Field(None, alias="notifyRead")
    max_retries: StrictInt | None = Field(None, alias="maxRetries")
    retry_interval: StrictInt | None = Field(
        None, alias="retryInterval", description="milliseconds"
    )
    webhook_secret: StrictStr | None = Field(None, alias="webhookSecret")
    headers: dict[StrictStr, StrictStr] | None = None
    events: list[StrictStr] | None = Field(
        None,
        description="event kinds sent as webhooks (default: the document's eight); adds "
        "message_reaction, message_edited, message_revoked, poll_vote, presence_update, "
        "group_update",
    )

    def flat_webhook(self) -> WebhookSettingsInput:
        return WebhookSettingsInput(
            notify_received=self.notify_received,
            notify_sent=self.notify_sent,
            notify_delivery=self.notify_delivery,
            notify_read=self.notify_read,
            max_retries=self.max_retries,
            retry_interval=self.retry_interval,
            secret=self.webhook_secret,
            headers=self.headers,
            events=self.events,
        )


class NewInstanceBody(Body, FlatWebhookFields):
    name: StrictStr
    description: StrictStr | None = None
    webhook_url: StrictStr | None = Field(None, alias="webhookUrl")
    webhook_enabled: StrictBool | None = Field(None, alias="webhookEnabled")
    engine: StrictStr | None = Field(None, description="'neonize' (real WhatsApp) or 'sandbox'")
    limits: dict[str, Any] | None = Field(
        None, description="per UTC day: maxMessagesSent, maxMediaSent, maxApiCalls"
    )
    sandbox: dict[str, Any] | None = Field(
        None, description='sandbox options: {"autoReceipts": bool}'
    )

    def to_domain(self) -> NewInstance:
        return NewInstance(
            name=self.name,
            description=self.description,
            webhook_url=self.webhook_url,
            webhook_enabled=self.webhook_enabled,
            webhook=self.flat_webhook(),
            engine=self.engine,
            sandbox=self.sandbox,
            limits=self.limits,
        )


class InstanceChangesBody(ExactBody, FlatWebhookFields):
    """PUT /api/instances/{id}: the document's nested `webhookSettings`, and the flat webhook
    fields that create takes (nested wins when both give the same setting)."""

    name: StrictStr | None = None
    description: StrictStr | None = None
    webhook_url: StrictStr | None = Field(None, alias="webhookUrl")
    webhook_enabled: StrictBool | None = Field(None, alias="webhookEnabled")
    webhook_settings: WebhookSettingsBody | None = Field(None, alias="webhookSettings")
    limits: dict[str, Any] | None = None

    def _webhook(self) -> WebhookSettingsInput | None:
        flat = self.flat_webhook()
        if self.webhook_settings is not None:
            nested = self.webhook_settings.to_domain()
            given = {k: value for k, value in vars(nested).items() if value is not None}
            flat = dataclasses.replace(flat, **given)
        if all(value is None for value in vars(flat).values()):
            return None
        return flat

    def to_domain(self) -> InstanceChanges:
        return InstanceChanges(
            name=self.name,
            description=self.description,
            webhook_url=self.webhook_url,
            webhook_enabled=self.webhook_enabled,
            webhook=self._webhook(),
            limits=self.limits,
        )


class ScanBody(Body):
    phone: StrictStr | None = None
    push_name: StrictStr | None = Field(None, alias="pushName")


class DisconnectBody(Body):
    reason: StrictStr | None = None


class SendTextBody(Body):
    phone: StrictStr
    message: StrictStr
    quoted_message_id: StrictStr | None = Field(None, alias="quotedMessageId")


class SendMediaBody(Body):
    phone: StrictStr
    url: StrictStr
    caption: StrictStr | None = None
    filename: StrictStr | None = None
    quoted_message_id: StrictStr | None = Field(None, alias="quotedMessageId")


class AddContactBody(Body):
    phone: StrictStr
    name: StrictStr | None = None


class SaveContactBody(Body):
    number: StrictStr
    name: StrictStr | None = None
    push_name: StrictStr | None = Field(None, alias="pushName")
    is_group: StrictBool | None = Field(None, alias="isGroup")
    profile_picture: StrictStr | None = Field(None, alias="profilePicture")
    about: StrictStr | None = None

    def to_domain(self) -> ContactInput:
        return ContactInput(
            self.number, self.name, self.push_name, self.is_group, self.profile_picture, self.about
        )


class SimulatedMediaBody(Body):
    base64: StrictStr | None = None
    url: StrictStr | None = None
    mime_type: StrictStr | None = Field(None, alias="mimeType")
    file_name: StrictStr | None = Field(None, alias="fileName")

    def to_domain(self) -> SimulatedMedia:
        return SimulatedMedia(self.mime_type, self.file_name, self.base64, self.url)


class IncomingBody(Body):
    sender: StrictStr = Field(alias="from")
    body: StrictStr | None = None
    push_name: StrictStr | None = Field(None, alias="pushName")
    media: SimulatedMediaBody | None = None


class ReceiptBody(Body):
    message_id: StrictStr = Field(alias="messageId")
    status: StrictStr
