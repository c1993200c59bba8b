"""The dashboard is served from `public/` with nothing from outside this server, and every
GraphQL document it sends (`public/app/queries.js`) is valid against the schema and uses no
deprecated field — so a schema change that would break a screen fails here, not in a browser."""

from __future__ import annotations

import re

import pytest
from graphql import parse, validate
from graphql.validation import NoDeprecatedCustomRule, specified_rules

from api.browser import PUBLIC_DIR
from graphql_schema.schema import schema
from tests.conftest import Api

QUERIES = PUBLIC_DIR / "app" / "queries.js"
CONSTANT = re.compile(r"^(export )?const ([A-Z_]+) = ([`\"])(.*?)\3;", re.S | re.M)
PLACEHOLDER = re.compile(r"\$\{([A-Z_]+)\}")
# A script, module, style, image or request from another host (the policy would refuse it too).
FOREIGN = re.compile(
    r"""(?:fetch\(|import\b[^;]*?|from\s+|src:?\s*=?\s*|href:?\s*=?\s*)["'`]https?://"""
)
IMPORTS = re.compile(r"""(?:from|import)\s+["'](\./[^"']+)["']""")


def _documents() -> dict[str, str]:
    """The exported documents of queries.js, with its `${FRAGMENT}` constants filled in."""
    constants: dict[str, str] = {}
    exported: list[str] = []
    for match in CONSTANT.finditer(QUERIES.read_text(encoding="utf-8")):
        text = PLACEHOLDER.sub(lambda m: constants[m.group(1)], match.group(4))
        constants[match.group(2)] = text
        if match.group(1):
            exported.append(match.group(2))
    return {name: constants[name] for name in exported}


DOCUMENTS = _documents()


def test_the_dashboard_sends_documents() -> None:
    assert {"LOGIN", "INSTANCES", "INSTANCE_STATUS", "SEND_TEXT", "USAGE"} <= set(DOCUMENTS)


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_each_dashboard_document_is_valid_and_not_deprecated(name: str) -> None:
    rules = [*specified_rules, NoDeprecatedCustomRule]
    problems = validate(schema._schema, parse(DOCUMENTS[name]), rules)
    assert [p.message for p in problems] == []


async def test_the_page_and_its_modules_are_served_here(api: Api) -> None:
    page = await api.client.get("/")
    assert page.status_code == 200
    assert "text/html" in page.headers["content-type"]
    policy = page.headers["content-security-policy"]
    assert "https://" not in policy and "frame-ancestors 'none'" in policy
    assert page.headers["x-frame-options"] == "DENY"
    assert re.search(r'<script type="module" src="/app/main.js">', page.text)
    seen: set[str] = set()
    todo = ["main.js"]
    while todo:  # main.js and every module it imports, transitively
        name = todo.pop()
        seen.add(name)
        served = await api.client.get(f"/app/{name}")
        assert served.status_code == 200, name
        assert "javascript" in served.headers["content-type"], name
        assert not FOREIGN.search(served.text), name
        todo += [m[2:] for m in IMPORTS.findall(served.text) if m[2:] not in seen]
    assert {"api.js", "queries.js", "instances.js", "chats.js", "usage.js"} <= seen
    style = await api.client.get("/app/style.css")
    assert style.status_code == 200 and "text/css" in style.headers["content-type"]
