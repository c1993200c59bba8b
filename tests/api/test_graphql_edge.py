"""/graphql at the edge: document limits answer 413/400 before anything runs, bodies it cannot
read answer the API's JSON error, introspection can be turned off, GraphiQL forbids framing."""

from __future__ import annotations

import json
import re
from typing import Any

from tests.conftest import Api, AppFactory

EVENTS_PAGE = 'instanceEvents(id: "{id}", limit: 1000) {{ events {{ id type timestamp data }} }}'


async def post(api: Api, body: Any, headers: dict[str, str] | None = None) -> Any:
    return await api.client.post("/graphql", json=body, headers=headers or {})


def only_error(answer: Any) -> dict[str, Any]:
    body = answer.json()
    assert body["data"] is None, body
    [error] = body["errors"]
    return error  # type: ignore[no-any-return]


async def test_a_large_unauthenticated_document_is_413_before_it_runs(api: Api) -> None:
    answer = await post(api, {"query": "{ " + "instances { id } " * 40_000 + "}"})
    assert answer.status_code == 413
    assert answer.headers["content-type"] == "application/json"
    error = only_error(answer)
    assert error["extensions"] == {
        "code": "query_too_large",
        "status": 413,
        "limit": "bytes",
        "max": 16_384,
    }


async def test_too_many_tokens_is_413(api_factory: AppFactory) -> None:
    api = await api_factory(graphql_max_tokens=100)
    answer = await post(api, {"query": "{ " + "__typename " * 120 + "}"})
    assert answer.status_code == 413
    assert only_error(answer)["extensions"]["limit"] == "tokens"


async def test_an_alias_flood_is_400_and_so_are_aliased_pages_past_the_cost(api: Api) -> None:
    headers = await api.admin()
    flood = " ".join(f"a{i}: me {{ id }}" for i in range(31))
    answer = await post(api, {"query": "{ " + flood + " }"}, headers)
    assert answer.status_code == 400
    assert only_error(answer)["extensions"] == {
        "code": "query_too_complex",
        "status": 400,
        "limit": "aliases",
        "max": 30,
    }
    # under the alias limit, the cost refuses the same pages
    pages = " ".join(f"a{i}: " + EVENTS_PAGE.format(id="x") for i in range(25))
    answer = await post(api, {"query": "{ " + pages + " }"}, headers)
    assert answer.status_code == 400
    assert only_error(answer)["extensions"]["limit"] == "cost"


async def test_a_page_size_from_a_variable_counts_in_the_cost(api_factory: AppFactory) -> None:
    api = await api_factory(graphql_max_cost=1_000)
    headers = await api.admin()
    iid = (await api.new_instance(headers))["id"]
    query = "query($id: ID!, $n: Int) { instanceEvents(id: $id, limit: $n) { events { id } } }"
    small = await post(api, {"query": query, "variables": {"id": iid, "n": 10}}, headers)
    assert small.status_code == 200 and "errors" not in small.json(), small.text
    large = await post(api, {"query": query, "variables": {"id": iid, "n": 900}}, headers)
    assert large.status_code == 400
    assert only_error(large)["extensions"]["limit"] == "cost"


async def test_depth_limit(api_factory: AppFactory) -> None:
    api = await api_factory(graphql_max_depth=2)
    headers = await api.admin()
    ok = await post(api, {"query": "{ instances { id } }"}, headers)
    assert ok.status_code == 200 and "errors" not in ok.json(), ok.text
    deep = await post(api, {"query": "{ instances { connectionStatus { ready } } }"}, headers)
    assert deep.status_code == 400
    assert only_error(deep)["extensions"]["limit"] == "depth"


async def test_limits_hold_for_queries_sent_with_get(api_factory: AppFactory) -> None:
    api = await api_factory(graphql_max_query_bytes=256)
    answer = await api.client.get("/graphql", params={"query": "{ " + "__typename " * 30 + "}"})
    assert answer.status_code == 413
    assert only_error(answer)["extensions"]["code"] == "query_too_large"


async def test_introspection_is_on_by_default_and_can_be_turned_off(
    api_factory: AppFactory,
) -> None:
    query = {"query": "{ __schema { queryType { name } } }"}
    on = await api_factory()
    answer = await post(on, query)
    assert answer.json() == {"data": {"__schema": {"queryType": {"name": "Query"}}}}

    off = await api_factory(graphql_introspection=False)
    answer = await post(off, query)
    assert answer.status_code == 400
    assert only_error(answer)["extensions"]["code"] == "introspection_disabled"
    answer = await post(off, {"query": "{ __typename }"})
    assert answer.json() == {"data": {"__typename": "Query"}}


async def test_a_lone_surrogate_in_a_variable_is_400_and_creates_nothing(api: Api) -> None:
    headers = await api.admin()
    mutation = (
        'mutation($name: String!) { createInstance(input: {name: $name, engine: "sandbox"}) '
        "{ id } }"
    )
    body = '{"query": ' + json.dumps(mutation) + ', "variables": {"name": "\\ud800"}}'
    answer = await api.client.post(
        "/graphql", content=body, headers={**headers, "content-type": "application/json"}
    )
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] == "validation_error"
    assert "surrogate" in answer.json()["message"]
    listed = await api.client.get("/api/instances", headers=headers)
    assert listed.json()["instances"] == []


async def test_bodies_graphql_cannot_read_answer_a_json_error(api: Api) -> None:
    cases = (
        ("text/plain", b"{ instances { id } }"),
        ("application/x-www-form-urlencoded", b"query=%7B%7D"),
        ("application/json", b"{not json"),
        ("application/json", b'["not", "an", "operation"]'),
    )
    for content_type, body in cases:
        answer = await api.client.post(
            "/graphql", content=body, headers={"content-type": content_type}
        )
        assert answer.status_code == 400, (content_type, answer.text)
        assert answer.headers["content-type"] == "application/json"
        assert answer.json()["error"] == "bad_request", answer.text
        assert answer.json()["message"]


async def test_graphiql_has_a_policy_that_forbids_framing(api: Api) -> None:
    page = await api.client.get("/graphql", headers={"accept": "text/html"})
    assert page.status_code == 200
    assert "graphiql" in page.text.lower()
    policy = page.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["x-content-type-options"] == "nosniff"
    # each inline script is allowed by its hash, not by 'unsafe-inline'
    script_src = next(d for d in policy.split("; ") if d.startswith("script-src"))
    assert "'unsafe-inline'" not in script_src
    inline = re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", page.text)
    assert inline and script_src.count("'sha256-") == len(inline)
    assert "https://" not in policy  # its scripts and styles are served here (/vendor)
