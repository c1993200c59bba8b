"""The schema change policy: the committed SDL is the code's, nothing breaks the released
SDL unless deprecated first, no JSON where the shape is known, and every type and field is
described."""

from __future__ import annotations

from graphql import (
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    get_named_type,
)

from graphql_schema.schema import schema
from graphql_schema.sdl import RELEASED_FILE, SCHEMA_FILE, breaking_changes, current_sdl

REGENERATE = "run `python -m graphql_schema.sdl` and commit graphql_schema/schema.graphql"


def test_the_committed_sdl_is_the_schema_the_code_builds() -> None:
    assert SCHEMA_FILE.read_text("utf-8") == current_sdl(), REGENERATE


def test_nothing_breaks_the_released_schema() -> None:
    assert breaking_changes(RELEASED_FILE.read_text("utf-8"), current_sdl()) == []


def test_the_guard_allows_removing_only_what_was_deprecated_first() -> None:
    released = 'type Query { kept: Int  old: Int @deprecated(reason: "use kept") gone: Int }'
    assert breaking_changes(released, "type Query { kept: Int gone: Int }") == []
    found = breaking_changes(released, 'type Query { kept: Int old: Int @deprecated(reason: "x") }')
    assert len(found) == 1 and found[0].startswith("FIELD_REMOVED:"), found
    assert "Query.gone" in found[0]
    changed = breaking_changes(released, "type Query { kept: String gone: Int }")
    assert [c.split(":", 1)[0] for c in changed] == ["FIELD_CHANGED_KIND"]


# Open maps by nature: free-form metadata, the user's own header names, an activity entry's
# details (one shape per action), a delivery's stored body, and sandbox inputs.
OPEN_JSON = {
    "Message.metadata",
    "MessageReceivedData.metadata",
    "WebhookSettings.headers",
    "WebhookSettingsInputType.headers",
    "ActivityLog.details",
    "WebhookDelivery.payload",
}


def test_no_json_scalar_where_the_api_document_defines_the_shape() -> None:
    found = set()
    for name, named in schema._schema.type_map.items():
        if isinstance(named, GraphQLObjectType | GraphQLInterfaceType | GraphQLInputObjectType):
            for field_name, field in named.fields.items():
                if get_named_type(field.type).name == "JSON":
                    found.add(f"{name}.{field_name}")
    assert found == OPEN_JSON
    # The shapes this issue typed: limits, event data, status, engine.
    instance = schema._schema.type_map["Instance"]
    assert isinstance(instance, GraphQLObjectType)
    assert get_named_type(instance.fields["limits"].type).name == "InstanceLimits"
    assert get_named_type(instance.fields["status"].type).name == "InstanceState"
    assert get_named_type(instance.fields["engine"].type).name == "EngineKind"


def _undescribed() -> set[str]:
    found = set()
    for name, named in schema._schema.type_map.items():
        if name.startswith("__") or name in ("String", "Int", "Float", "Boolean", "ID"):
            continue
        if not named.description:
            found.add(name)
        if isinstance(named, GraphQLObjectType | GraphQLInterfaceType | GraphQLInputObjectType):
            for field_name, field in named.fields.items():
                if not field.description:
                    found.add(f"{name}.{field_name}")
    return found


def test_every_type_and_field_is_described() -> None:
    assert _undescribed() == set()
