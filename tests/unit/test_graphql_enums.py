"""The GraphQL enums name exactly the domain's closed sets, so a kind added in `domain/` and
not in the schema (a stored message type, an event kind, a presence state) fails here
rather than as a GraphQL error on the first message of that kind."""

from __future__ import annotations

from domain import entities
from domain.messages import WHATSAPP_TYPES
from domain.rich_inbound import RICH_TYPES
from domain.wire import GROUP_ACTIONS, PRESENCE_STATES
from graphql_schema import enums


def _values(enum: type) -> set[str]:
    return {member.value for member in enum}  # type: ignore[attr-defined]


def test_every_stored_message_type_is_a_message_kind() -> None:
    assert _values(enums.MessageKind) == set(WHATSAPP_TYPES) | set(RICH_TYPES)


def test_every_event_kind_is_an_event_type() -> None:
    assert _values(enums.EventType) == {t.value for t in entities.EventType}


def test_presence_and_participant_actions_match_the_domain() -> None:
    assert _values(enums.PresenceState) == set(PRESENCE_STATES)
    assert _values(enums.ParticipantAction) == set(GROUP_ACTIONS)
    # every participant action is also a group change an event reports
    assert set(GROUP_ACTIONS) <= _values(enums.GroupAction)


def test_every_event_type_has_its_own_graphql_type() -> None:
    from graphql_schema.events import _KINDS

    assert set(_KINDS) == set(entities.EventType)
