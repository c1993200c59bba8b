"""The schema's SDL, committed and guarded: `schema.graphql` is the schema the code builds
(a test fails when they differ), `released.graphql` the last released one (a test fails on
any breaking change against it, unless the removed field was deprecated there first).

    python -m graphql_schema.sdl             # rewrite schema.graphql from the code
    python -m graphql_schema.sdl --release   # and make it the released baseline
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from graphql import (
    BreakingChangeType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    build_schema,
    find_breaking_changes,
)

HERE = Path(__file__).parent
SCHEMA_FILE = HERE / "schema.graphql"
RELEASED_FILE = HERE / "released.graphql"


def current_sdl() -> str:
    from graphql_schema.schema import schema

    return schema.as_str() + "\n"


def _deprecated_fields(schema: GraphQLSchema) -> set[str]:
    found: set[str] = set()
    for name, named in schema.type_map.items():
        if isinstance(named, GraphQLObjectType | GraphQLInterfaceType | GraphQLInputObjectType):
            for field_name, field in named.fields.items():
                if getattr(field, "deprecation_reason", None):
                    found.add(f"{name}.{field_name}")
    return found


def breaking_changes(released_sdl: str, new_sdl: str) -> list[str]:
    """What would break a client of the released schema; removing a field that the released
    schema already marked deprecated is allowed (the change policy: deprecate, then remove)."""
    released = build_schema(released_sdl)
    deprecated = _deprecated_fields(released)
    found = []
    for change in find_breaking_changes(released, build_schema(new_sdl)):
        if change.type is BreakingChangeType.FIELD_REMOVED:
            # graphql-core describes it as "[Field ]<Type>.<field> was removed."
            removed = re.search(r"(\w+\.\w+) was removed", change.description)
            if removed is not None and removed.group(1) in deprecated:
                continue
        found.append(f"{change.type.name}: {change.description}")
    return found


def main(argv: list[str]) -> int:
    sdl = current_sdl()
    SCHEMA_FILE.write_text(sdl, "utf-8")
    if "--release" in argv:
        RELEASED_FILE.write_text(sdl, "utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
