"""GraphQL document limits on the real schema, before validation: size, tokens, depth, aliases,
repeated fields, introspection and the estimated cost (pagination arguments multiply)."""

from __future__ import annotations

from typing import Any

import pytest
from graphql import GraphQLSyntaxError, get_introspection_query

from graphql_schema.limits import (
    DEFAULT_PAGE,
    LIST_ESTIMATE,
    MAX_OVERLAP,
    MAX_PAGE,
    DocumentLimits,
    DocumentRefused,
    check_document,
)
from graphql_schema.schema import schema

SCHEMA = schema._schema
LIMITS = DocumentLimits(
    max_bytes=16_384, max_tokens=2_000, max_depth=20, max_aliases=30, max_cost=100_000
)
EVENTS = 'instanceEvents(id: "i", limit: {n}) {{ events {{ id type }} }}'


def refused(query: str, variables: dict[str, Any] | None = None, **limits: Any) -> DocumentRefused:
    with pytest.raises(DocumentRefused) as caught:
        check_document(SCHEMA, query, variables, _limits(**limits))
    return caught.value


def _limits(**changes: Any) -> DocumentLimits:
    return DocumentLimits(**{**LIMITS.__dict__, **changes})


def cost_of(query: str, variables: dict[str, Any] | None = None) -> int:
    """The estimated cost, found as the lowest max_cost that admits the document."""
    low, high = 0, 10**9
    while low < high:
        middle = (low + high) // 2
        try:
            check_document(SCHEMA, query, variables, _limits(max_cost=middle))
            high = middle
        except DocumentRefused:
            low = middle + 1
    return low


def test_a_large_document_is_refused_by_its_size_before_parsing() -> None:
    # not even valid GraphQL: the size alone answers
    error = refused("{" * 600_000)
    assert (error.status, error.code, error.details) == (
        413,
        "query_too_large",
        {"limit": "bytes", "max": 16_384},
    )
    # multi-byte characters count as bytes
    assert refused("# " + "й" * 9_000 + "\n{ me { id } }").details["limit"] == "bytes"


def test_a_document_with_too_many_tokens_is_refused_before_a_full_parse() -> None:
    query = "{ " + " ".join(f"a{i}: __typename" for i in range(700)) + " }"
    error = refused(query, max_bytes=10**6)
    assert (error.status, error.code, error.details) == (
        413,
        "query_too_large",
        {"limit": "tokens", "max": 2_000},
    )


def test_a_syntax_error_stays_a_syntax_error() -> None:
    with pytest.raises(GraphQLSyntaxError):
        check_document(SCHEMA, "{ me { id ", None, LIMITS)


def test_aliases_are_counted_wherever_a_fragment_is_spread() -> None:
    fragment = "fragment F on User { a: id b: email }"
    ok = "{ me { ...F } } " + fragment
    check_document(SCHEMA, ok, None, _limits(max_aliases=2))
    twice = "{ me { ...F } other: me { ...F } } " + fragment
    error = refused(twice, max_aliases=4)
    assert (error.status, error.code, error.details["limit"]) == (
        400,
        "query_too_complex",
        "aliases",
    )


def test_fields_repeated_under_one_name_are_bounded_by_their_pairwise_comparisons() -> None:
    # graphql-core compares each two of them, and all they select: (sum of sizes) squared
    check_document(SCHEMA, "{ me { " + "id " * 100 + "} }", None, LIMITS)  # 100^2
    error = refused("{ me { " + "id " * 101 + "} }")
    assert error.details == {"limit": "overlap", "max": MAX_OVERLAP}
    assert "'id'" in error.message
    # repeats of repeats: 10 x connectionStatus with 10 x ready, in 10 x instances
    status = "connectionStatus { " + "ready " * 10 + "} "
    nested = "{ " + ("instances { " + status * 10 + "} ") * 10 + "}"
    assert refused(nested).details["limit"] == "overlap"
    # through fragments too (graphql-core compares the fields they bring along)
    spreads = "{ me { " + "...F " * 101 + "} } fragment F on User { id }"
    assert refused(spreads).details["limit"] == "overlap"
    # what ordinary clients send: a few fragments that share a few fields
    shared = (
        "{ instances { ...A ...B ...C } } fragment A on Instance { id name } "
        "fragment B on Instance { id status } fragment C on Instance { id connectionStatus "
        "{ ready status } }"
    )
    check_document(SCHEMA, shared, None, LIMITS)


def test_depth_is_counted_through_fragments() -> None:
    query = "{ me { ...F } } fragment F on User { id }"
    check_document(SCHEMA, query, None, _limits(max_depth=2))
    assert refused(query, max_depth=1).details == {"limit": "depth", "max": 1}


def test_fragment_cycles_are_left_to_validation_without_looping() -> None:
    query = "{ ...A } fragment A on Query { ...B } fragment B on Query { ...A __typename }"
    check_document(SCHEMA, query, None, LIMITS)  # validation answers "Cannot spread A"


def test_the_cost_counts_pagination_arguments_multiplicatively() -> None:
    assert cost_of("{ " + EVENTS.format(n=10) + " }") == 1 + 10 * (1 + 2)
    assert cost_of("{ " + EVENTS.format(n=1000) + " }") == 1 + 1000 * (1 + 2)
    # from a variable, and the use case's default when omitted
    query = 'query($n: Int) { instanceEvents(id: "i", limit: $n) { events { id } } }'
    assert cost_of(query, {"n": 50}) == 1 + 50 * 2
    assert cost_of(query, {}) == 1 + DEFAULT_PAGE * 2
    # a limit no use case serves is refused there (with its message), not counted past it
    assert cost_of("{ " + EVENTS.format(n=10**9) + " }") == 1 + MAX_PAGE * 3
    # a list that takes no page size counts as LIST_ESTIMATE items, and nesting multiplies
    nested = "{ __schema { types { fields { name } } } }"
    assert cost_of(nested) == 1 + 1 * (1 + LIST_ESTIMATE * (1 + LIST_ESTIMATE * 1))


def test_aliases_of_a_large_page_are_refused_by_cost() -> None:
    page = 'instanceEvents(id: "i", limit: 1000) { events { id type timestamp data } }'
    assert cost_of("{ " + page + " }") == 5001  # one is fine
    pages = " ".join(f"a{i}: {page}" for i in range(20))
    error = refused("{ " + pages + " }")
    assert (error.status, error.code, error.details) == (
        400,
        "query_too_complex",
        {"limit": "cost", "max": 100_000},
    )


def test_graphiqls_introspection_query_fits_the_default_limits() -> None:
    query = get_introspection_query(
        descriptions=True,
        specified_by_url=True,
        directive_is_repeatable=True,
        schema_description=True,
        input_value_deprecation=True,
    )
    check_document(SCHEMA, query, None, LIMITS)
    # while nesting introspection lists is refused
    deep = "{ __schema { types { " + "fields { type { " * 4 + "name" + " } }" * 4 + " } } }"
    assert refused(deep).details["limit"] == "cost"


def test_introspection_can_be_turned_off_but_typename_stays() -> None:
    check_document(SCHEMA, "{ __typename me { __typename } }", None, _limits(introspection=False))
    for query in ("{ __schema { queryType { name } } }", '{ __type(name: "User") { name } }'):
        error = refused(query, introspection=False)
        assert (error.status, error.code) == (400, "introspection_disabled")
