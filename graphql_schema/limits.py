"""Limits on a GraphQL document, checked before it is validated or run.

graphql-core's validation grows faster than the document (OverlappingFieldsCanBeMerged
compares every pair of fields that share a response name) and execution builds the whole
answer in memory: a 0.6 MB document held the event loop for 8 s, and 2,000 aliases of one
page built a 79 MB answer. So, each step bounding the work of the next:

1. the size in bytes, before anything reads the text;
2. the tokens: graphql-core's parser stops at `max_tokens`, never parsing a large document;
3. one walk over the parsed document (fragments memoised, cycles cut), before validation:
   depth, aliases, fields repeated under one name (MAX_OVERLAP), introspection when it is
   off, and the estimated cost.

Cost: every field selected costs 1, and what is under a field counts as many times as the
field can repeat. A paged field repeats it `limit`/`first`/`last` times (the argument's
value or variable; DEFAULT_PAGE when omitted, at most MAX_PAGE); the list inside that page
repeats within the page (x1); any other list counts LIST_ESTIMATE items. Nesting multiplies:
`instanceEvents(limit: 1000) { events { id type } }` costs 1 + 1000 x (1 + 2) = 3001.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLSyntaxError,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    get_named_type,
    get_nullable_type,
    is_list_type,
    parse,
)
from graphql.type.introspection import SchemaMetaFieldDef, TypeMetaFieldDef, TypeNameMetaFieldDef

PAGE_ARGUMENTS = ("limit", "first", "last")
DEFAULT_PAGE = 100  # the largest default page of the use cases (domain.validation.page)
# The largest page any use case serves: a larger `limit` is refused there with a clear
# message (so it is counted as this, not refused here as a cost).
MAX_PAGE = 1000
LIST_ESTIMATE = 10  # items assumed in a list that takes no page size
# graphql-core compares every two fields selected under one response name in a selection
# set, and what they select, pair by pair (OverlappingFieldsCanBeMerged). The walk bounds that
# work by (sum of the fields' subtree sizes) squared per repeated name, and caps the total:
# 20 repeats of a leaf cost 400; ten copies of a ten-field selection, 12,100.
MAX_OVERLAP = 10_000
_INTROSPECTION = frozenset({"__schema", "__type"})


@dataclass(frozen=True)
class DocumentLimits:
    max_bytes: int
    max_tokens: int
    max_depth: int
    max_aliases: int
    max_cost: int
    introspection: bool = True

    @classmethod
    def from_settings(cls, settings: Any) -> DocumentLimits:
        return cls(
            max_bytes=settings.graphql_max_query_bytes,
            max_tokens=settings.graphql_max_tokens,
            max_depth=settings.graphql_max_depth,
            max_aliases=settings.graphql_max_aliases,
            max_cost=settings.graphql_max_cost,
            introspection=settings.graphql_introspection,
        )


class DocumentRefused(Exception):
    """A document over a limit: 413 for its size, 400 for its shape."""

    def __init__(self, status: int, code: str, message: str, **details: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details

    def graphql_error(self) -> GraphQLError:
        return GraphQLError(
            self.message, extensions={**self.details, "code": self.code, "status": self.status}
        )


def _too_large(message: str, **details: Any) -> DocumentRefused:
    return DocumentRefused(413, "query_too_large", message, **details)


def _too_complex(message: str, **details: Any) -> DocumentRefused:
    return DocumentRefused(400, "query_too_complex", message, **details)


def check_document(
    schema: GraphQLSchema,
    query: str,
    variables: Mapping[str, Any] | None,
    limits: DocumentLimits,
) -> DocumentNode:
    """The parsed document, or DocumentRefused; never a full parse of a large document."""
    # A character is 1-4 bytes: the length alone settles most documents without encoding.
    if len(query) > limits.max_bytes or len(query.encode("utf-8", "replace")) > limits.max_bytes:
        raise _too_large(
            f"The GraphQL document is larger than {limits.max_bytes} bytes",
            limit="bytes",
            max=limits.max_bytes,
        )
    try:
        document = parse(query, max_tokens=limits.max_tokens)
    except GraphQLSyntaxError as exc:
        if "tokens. Parsing aborted" in exc.message:
            raise _too_large(
                f"The GraphQL document has more than {limits.max_tokens} tokens",
                limit="tokens",
                max=limits.max_tokens,
            ) from None
        raise
    except RecursionError:
        raise _too_complex(
            f"The GraphQL document nests deeper than {limits.max_depth} levels",
            limit="depth",
            max=limits.max_depth,
        ) from None
    try:
        _Walk(schema, document, variables or {}, limits).run()
    except RecursionError:  # fragments spreading fragments, hundreds deep
        raise _too_complex(
            "The GraphQL document's fragments nest too deeply", limit="depth"
        ) from None
    return document


@dataclass
class _Tally:
    cost: int = 0
    depth: int = 0
    aliases: int = 0
    size: int = 0  # fields selected, fragments expanded
    overlap: int = 0  # bound of the pairwise field comparisons of validation
    # per response name of this selection set (fragments merged): [selections, their sizes]
    groups: dict[str, list[int]] = field(default_factory=dict)


class _Walk:
    def __init__(
        self,
        schema: GraphQLSchema,
        document: DocumentNode,
        variables: Mapping[str, Any],
        limits: DocumentLimits,
    ) -> None:
        self.schema = schema
        self.variables = variables
        self.limits = limits
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        self.operations = [
            d for d in document.definitions if isinstance(d, OperationDefinitionNode)
        ]
        self.memo: dict[tuple[str, bool], _Tally] = {}
        self.visiting: set[str] = set()

    def run(self) -> None:
        cost = aliases = 0
        for operation in self.operations:
            root = self.schema.get_root_type(operation.operation)
            tally = self.selections(operation.selection_set, root, in_page=False, level=0)
            cost += tally.cost
            aliases += tally.aliases
            self.check(cost, tally.depth, aliases)

    def check(self, cost: int, depth: int, aliases: int) -> None:
        limits = self.limits
        if depth > limits.max_depth:
            raise _too_complex(
                f"The GraphQL document nests fields deeper than {limits.max_depth} levels",
                limit="depth",
                max=limits.max_depth,
            )
        if aliases > limits.max_aliases:
            raise _too_complex(
                f"The GraphQL document uses more than {limits.max_aliases} aliases",
                limit="aliases",
                max=limits.max_aliases,
            )
        if cost > limits.max_cost:
            raise _too_complex(
                f"The GraphQL document's estimated cost is over {limits.max_cost} "
                "(each field counts once per item its page or list can hold)",
                limit="cost",
                max=limits.max_cost,
            )

    def selections(
        self,
        node: SelectionSetNode | None,
        parent: GraphQLNamedType | None,
        *,
        in_page: bool,
        level: int,
    ) -> _Tally:
        total = _Tally()
        if node is None:
            return total
        for selection in node.selections:
            if isinstance(selection, FieldNode):
                part = self.field(selection, parent, in_page=in_page, level=level + 1)
                group = total.groups.setdefault((selection.alias or selection.name).value, [0, 0])
                group[0] += 1
                group[1] += part.size
            else:
                if isinstance(selection, InlineFragmentNode):
                    condition = selection.type_condition
                    on = self.schema.get_type(condition.name.value) if condition else parent
                    part = self.selections(
                        selection.selection_set, on, in_page=in_page, level=level
                    )
                elif isinstance(selection, FragmentSpreadNode):
                    part = self.spread(selection.name.value, in_page=in_page, level=level)
                else:  # pragma: no cover - graphql-core has no other selection
                    continue
                for name, (count, size) in part.groups.items():
                    group = total.groups.setdefault(name, [0, 0])
                    group[0] += count
                    group[1] += size
            total.cost += part.cost
            total.depth = max(total.depth, part.depth)
            total.aliases += part.aliases
            total.size += part.size
            total.overlap += part.overlap
            self.check(total.cost, level + total.depth, total.aliases)
        repeated = [
            (size * size, name) for name, (count, size) in total.groups.items() if count > 1
        ]
        total.overlap += sum(work for work, _ in repeated)
        if total.overlap > MAX_OVERLAP:
            _, name = max(repeated, default=(0, "?"))
            raise _too_complex(
                f"The GraphQL document selects '{name}' (or other fields) too many times over: "
                "fields selected more than once under one name are compared pair by pair, "
                "with all they select",
                limit="overlap",
                max=MAX_OVERLAP,
            )
        return total

    def spread(self, name: str, *, in_page: bool, level: int) -> _Tally:
        fragment = self.fragments.get(name)
        if fragment is None or name in self.visiting:
            return _Tally()  # unknown or cyclic: validation refuses the document
        key = (name, in_page)
        if key not in self.memo:
            self.visiting.add(name)
            try:
                on = self.schema.get_type(fragment.type_condition.name.value)
                # relative to where it is spread: level 0, checked by the caller
                self.memo[key] = self.selections(
                    fragment.selection_set, on, in_page=in_page, level=0
                )
            finally:
                self.visiting.discard(name)
        return self.memo[key]

    def field(
        self, node: FieldNode, parent: GraphQLNamedType | None, *, in_page: bool, level: int
    ) -> _Tally:
        name = node.name.value
        if name in _INTROSPECTION and not self.limits.introspection:
            raise DocumentRefused(
                400,
                "introspection_disabled",
                f"Introspection is turned off on this server (GRAPHQL_INTROSPECTION); "
                f"'{name}' cannot be queried",
            )
        if level > self.limits.max_depth:
            self.check(0, level, 0)
        definition = self.definition(parent, name)
        child_type = get_named_type(definition.type) if definition else None
        page = self.page_size(node, definition)
        if page is not None:
            repeat, child_in_page = page, True
        elif definition is not None and is_list_type(get_nullable_type(definition.type)):
            repeat, child_in_page = (1 if in_page else LIST_ESTIMATE), False
        else:
            repeat, child_in_page = 1, in_page
        below = self.selections(node.selection_set, child_type, in_page=child_in_page, level=level)
        return _Tally(
            cost=1 + repeat * below.cost,
            depth=1 + below.depth,
            aliases=below.aliases + (1 if node.alias is not None else 0),
            size=1 + below.size,
            overlap=below.overlap,
        )

    def definition(self, parent: GraphQLNamedType | None, name: str) -> GraphQLField | None:
        if name == "__typename":
            return TypeNameMetaFieldDef
        if parent is not None and parent is self.schema.query_type:
            if name == "__schema":
                return SchemaMetaFieldDef
            if name == "__type":
                return TypeMetaFieldDef
        if isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
            return parent.fields.get(name)
        return None

    def page_size(self, node: FieldNode, definition: GraphQLField | None) -> int | None:
        """How many items a paged field asks for; None when the field takes no page size."""
        given = {a.name.value: a.value for a in node.arguments or ()}
        for argument in PAGE_ARGUMENTS:
            if argument in given:
                return self.int_value(given[argument])
        if definition is not None and any(a in definition.args for a in PAGE_ARGUMENTS):
            return DEFAULT_PAGE
        return None

    def int_value(self, value: Any) -> int:
        if isinstance(value, IntValueNode):
            try:
                number: Any = int(value.value)
            except ValueError:  # more digits than Python converts
                return MAX_PAGE
        elif isinstance(value, VariableNode):
            number = self.variables.get(value.name.value)
        else:
            number = None
        if not isinstance(number, int) or isinstance(number, bool):
            return DEFAULT_PAGE  # null or a wrong type: validation or the use case answers
        return max(1, min(number, MAX_PAGE))
