"""Builds the tenant-isolation attempts from the app's route table and the GraphQL schema.

Every REST route and every GraphQL field is turned into a valid request from the samples
below. A route or field the generator cannot build a request for (an unknown path
parameter, a body or a required argument without a sample) is reported in `missing`, and
the isolation tests fail on it: a new endpoint cannot slip past them unnoticed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import fastapi.routing
from fastapi import FastAPI
from fastapi.routing import APIRoute
from graphql import (
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    get_named_type,
    is_composite_type,
)

from graphql_schema.schema import schema

OUTSIDE = "79001234567"  # a number tenant A has a chat with
GROUP = "120363000000000001@g.us"  # a group id (groups live on WhatsApp, reached per instance)


@dataclass
class Tenant:
    """What tenant A owns: the objects tenant B aims at."""

    user: str
    instance: str
    media: str
    message: str
    delivery: str
    chat: str = OUTSIDE


Sample = Callable[[Tenant], dict[str, Any]]


# --- REST --------------------------------------------------------------------------------

PUBLIC_ROUTES = {
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    # Server-wide counts only, no tenant's data; behind METRICS_TOKEN when it is set
    # (tests/api/test_metrics.py), open like the probes otherwise.
    ("GET", "/metrics"),
    ("POST", "/api/auth/login"),
    ("GET", "/graphql"),  # GraphiQL, a static page; POST /graphql is swept field by field
    ("POST", "/graphql"),
}

PATH_SAMPLES: dict[str, Callable[[Tenant], str]] = {
    "instance_id": lambda a: a.instance,
    "user_id": lambda a: a.user,
    "media_id": lambda a: a.media,
    "chat_id": lambda a: a.chat,
    "delivery_id": lambda a: a.delivery,
    "message_id": lambda a: a.message,
    "group_id": lambda a: GROUP,
}

_CONTACT: Sample = lambda a: {"json": {"number": OUTSIDE, "name": "stolen"}}  # noqa: E731

# Request bodies (httpx keyword arguments), valid apart from whose object they aim at.
REST_BODIES: dict[tuple[str, str], Sample] = {
    ("POST", "/api/users"): lambda a: {
        "json": {"email": "new@example.com", "password": "password-123"}
    },
    ("PUT", "/api/users/{user_id}"): lambda a: {"json": {"firstName": "stolen"}},
    ("POST", "/api/instances"): lambda a: {"json": {"name": "x", "engine": "sandbox"}},
    ("PUT", "/api/instances/{instance_id}"): lambda a: {"json": {"name": "stolen"}},
    ("POST", "/api/whatsapp/{instance_id}/send"): lambda a: {
        "json": {"phone": OUTSIDE, "message": "hi"}
    },
    # Loopback on a closed port: even a regressed check would not reach another machine.
    ("POST", "/api/whatsapp/{instance_id}/send-media"): lambda a: {
        "json": {"phone": OUTSIDE, "url": "http://127.0.0.1:9/a.png"}
    },
    ("POST", "/api/whatsapp/{instance_id}/send-file"): lambda a: {
        "data": {"phone": OUTSIDE},
        "files": {"file": ("a.txt", b"abc", "text/plain")},
    },
    ("POST", "/api/whatsapp/{instance_id}/contacts/add"): lambda a: {
        "json": {"phone": OUTSIDE, "name": "stolen"}
    },
    ("POST", "/api/instances/{instance_id}/contacts/save"): _CONTACT,
    ("POST", "/api/whatsapp/{instance_id}/contacts/save"): _CONTACT,
    ("POST", "/api/sandbox/{instance_id}/scan"): lambda a: {"json": {}},
    ("POST", "/api/sandbox/{instance_id}/disconnect"): lambda a: {"json": {"reason": "x"}},
    ("POST", "/api/sandbox/{instance_id}/incoming"): lambda a: {
        "json": {"from": OUTSIDE, "body": "x"}
    },
    ("POST", "/api/sandbox/{instance_id}/receipt"): lambda a: {
        "json": {"messageId": a.message, "status": "read"}
    },
    ("POST", "/api/instances/{instance_id}/pairing-code"): lambda a: {"json": {"phone": OUTSIDE}},
    ("POST", "/api/whatsapp/{instance_id}/check"): lambda a: {"json": {"phones": [OUTSIDE]}},
    ("POST", "/api/whatsapp/{instance_id}/react"): lambda a: {
        "json": {"messageId": a.message, "emoji": "👍"}
    },
    ("POST", "/api/whatsapp/{instance_id}/send-location"): lambda a: {
        "json": {"phone": OUTSIDE, "latitude": 1.5, "longitude": 2.5}
    },
    ("POST", "/api/whatsapp/{instance_id}/send-contact"): lambda a: {
        "json": {"phone": OUTSIDE, "contacts": [{"name": "x", "phone": OUTSIDE}]}
    },
    ("POST", "/api/whatsapp/{instance_id}/send-poll"): lambda a: {
        "json": {"phone": OUTSIDE, "question": "q", "options": ["a", "b"]}
    },
    ("POST", "/api/whatsapp/{instance_id}/poll-vote"): lambda a: {
        "json": {"pollId": a.message, "options": []}
    },
    ("POST", "/api/whatsapp/{instance_id}/messages/{message_id}/edit"): lambda a: {
        "json": {"message": "stolen"}
    },
    ("POST", "/api/whatsapp/{instance_id}/messages/{message_id}/forward"): lambda a: {
        "json": {"phone": OUTSIDE}
    },
    ("POST", "/api/whatsapp/{instance_id}/presence"): lambda a: {"json": {"state": "available"}},
    ("POST", "/api/whatsapp/{instance_id}/groups"): lambda a: {
        "json": {"name": "g", "participants": [OUTSIDE]}
    },
    ("POST", "/api/whatsapp/{instance_id}/groups/join"): lambda a: {
        "json": {"link": "https://chat.whatsapp.com/AAAAAAAAAAAAAAAAAAAAAA"}
    },
    ("PUT", "/api/whatsapp/{instance_id}/groups/{group_id}/subject"): lambda a: {
        "json": {"subject": "stolen"}
    },
    ("PUT", "/api/whatsapp/{instance_id}/groups/{group_id}/description"): lambda a: {
        "json": {"description": "stolen"}
    },
    ("POST", "/api/whatsapp/{instance_id}/groups/{group_id}/participants"): lambda a: {
        "json": {"action": "add", "participants": [OUTSIDE]}
    },
    ("POST", "/api/whatsapp/{instance_id}/groups/{group_id}/invite"): lambda a: {"json": {}},
    # A closed local port: even a regressed admin check would reach no database.
    ("POST", "/api/db/switch"): lambda a: {"json": {"provider": "postgresql", "migrate": True}},
}


@dataclass
class RestAttempt:
    method: str
    template: str
    path: str
    scoped: bool  # aims at a tenant's object through a path parameter
    kwargs: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.method} {self.template}"


def api_routes(app: FastAPI) -> Iterator[tuple[str, APIRoute]]:
    """(full path, route) of every HTTP route the app serves."""
    # FastAPI >= 0.16x keeps included routers lazily; iter_route_contexts walks them and
    # gives each route's path with its router's prefix.
    walk = getattr(fastapi.routing, "iter_route_contexts", None)
    if walk is None:
        found = [(getattr(r, "path", ""), r) for r in app.routes]
    else:
        found = [(c.path or "", c.original_route) for c in walk(app.routes)]
    for path, route in found:
        if isinstance(route, APIRoute):
            yield path, route


def rest_attempts(app: FastAPI, a: Tenant) -> tuple[list[RestAttempt], list[str]]:
    attempts: list[RestAttempt] = []
    missing: list[str] = []
    for template, route in api_routes(app):
        for method in sorted(route.methods):
            if (method, template) in PUBLIC_ROUTES:
                continue
            params = [p.name for p in route.dependant.path_params]
            unknown = [p for p in params if p not in PATH_SAMPLES]
            if unknown:
                missing.append(f"REST {method} {template}: path parameter(s) {unknown}")
                continue
            body = REST_BODIES.get((method, template))
            if route.body_field is not None and body is None:
                missing.append(f"REST {method} {template}: a request body")
                continue
            path = template.format(**{p: PATH_SAMPLES[p](a) for p in params})
            attempts.append(
                RestAttempt(method, template, path, bool(params), body(a) if body else {})
            )
    return attempts, missing


# --- GraphQL -----------------------------------------------------------------------------

PUBLIC_FIELDS = {"login"}

# What an `id` argument names, per field (other arguments say it in their own name).
ID_ARGUMENT: dict[str, str] = {
    **dict.fromkeys(("user", "updateUser", "deleteUser"), "user"),
    **dict.fromkeys(
        (
            "instance", "instanceStatus", "instanceQr", "instanceActivity", "instanceEvents",
            "updateInstance", "deleteInstance", "reconnectInstance", "logoutInstance",
            "sandboxScan", "sandboxDisconnect", "scanSandboxQr", "dropSandboxConnection", "node",
        ),
        "instance",
    ),
}  # fmt: skip

ARGUMENTS: dict[str, Callable[[Tenant], Any]] = {
    "instanceId": lambda a: a.instance,
    "instanceIds": lambda a: [a.instance],
    "userId": lambda a: a.user,
    "mediaId": lambda a: a.media,
    "deliveryId": lambda a: a.delivery,
    "chatId": lambda a: a.chat,
    "messageId": lambda a: a.message,
    "phone": lambda a: OUTSIDE,
    "phones": lambda a: [OUTSIDE],
    "from": lambda a: OUTSIDE,
    "message": lambda a: "hi",
    "body": lambda a: "hi",
    "url": lambda a: "http://127.0.0.1:9/a.png",
    "status": lambda a: "read",
    "onlyGroups": lambda a: False,
    "email": lambda a: "nobody@example.com",
    "password": lambda a: "password-123",
    "emoji": lambda a: "👍",
    "pollId": lambda a: a.message,
    "options": lambda a: [],
    "state": lambda a: "available",
    "events": lambda a: ["message_reaction"],
    "contacts": lambda a: [{"name": "x", "phone": OUTSIDE}],
    "groupId": lambda a: GROUP,
    "participants": lambda a: [OUTSIDE],
    "action": lambda a: "add",
    "subject": lambda a: "stolen",
    "description": lambda a: "stolen",
    "link": lambda a: "https://chat.whatsapp.com/AAAAAAAAAAAAAAAAAAAAAA",
    "revoke": lambda a: False,
    "provider": lambda a: "postgresql",
    "migrate": lambda a: True,
}

INPUTS: dict[str, Callable[[Tenant], dict[str, Any]]] = {
    "InstanceChangesInput": lambda a: {"name": "stolen"},
    "UserChangesInput": lambda a: {"firstName": "stolen"},
    "ContactInput": lambda a: {"number": OUTSIDE, "name": "stolen"},
    "NewUserInput": lambda a: {"email": "new@example.com", "password": "password-123"},
    "NewInstanceInput": lambda a: {"name": "x", "engine": "sandbox"},
    "LocationInput": lambda a: {"phone": OUTSIDE, "latitude": 1.5, "longitude": 2.5},
    "PollInput": lambda a: {"phone": OUTSIDE, "question": "q", "options": ["a", "b"]},
}

UPLOAD = "Upload"


@dataclass
class GqlAttempt:
    operation: str  # query, mutation, subscription
    field: str
    document: str
    variables: dict[str, Any]
    uploads: list[str]  # variables that carry a file (a multipart request)
    scoped: bool  # takes an id

    def __str__(self) -> str:
        return f"GraphQL {self.operation} {self.field}"


def _takes_an_id(f: GraphQLField) -> bool:
    return any(get_named_type(arg.type).name == "ID" for arg in f.args.values())


def _value(field_name: str, arg_name: str, arg_type: Any, a: Tenant) -> tuple[bool, Any]:
    named = get_named_type(arg_type)
    if arg_name == "id":
        owner = ID_ARGUMENT.get(field_name)
        return (owner is not None, getattr(a, owner) if owner else None)
    if arg_name in ARGUMENTS:
        return True, ARGUMENTS[arg_name](a)
    if isinstance(named, GraphQLInputObjectType) and named.name in INPUTS:
        return True, INPUTS[named.name](a)
    if isinstance(named, GraphQLScalarType) and named.name == UPLOAD:
        return True, None  # filled by the multipart request
    return False, None


def graphql_attempts(a: Tenant) -> tuple[list[GqlAttempt], list[str]]:
    attempts: list[GqlAttempt] = []
    missing: list[str] = []
    gs = schema._schema
    roots: list[tuple[str, GraphQLObjectType | None]] = [
        ("query", gs.query_type),
        ("mutation", gs.mutation_type),
        ("subscription", gs.subscription_type),
    ]
    for operation, root in roots:
        if root is None:
            continue
        for name, f in root.fields.items():
            if name in PUBLIC_FIELDS:
                continue
            declared: list[str] = []
            passed: list[str] = []
            variables: dict[str, Any] = {}
            uploads: list[str] = []
            unknown: list[str] = []
            for index, (arg_name, arg) in enumerate(f.args.items()):
                known, value = _value(name, arg_name, arg.type, a)
                if not known:
                    if isinstance(arg.type, GraphQLNonNull) or arg_name == "id":
                        unknown.append(arg_name)
                    continue
                var = f"v{index}"
                declared.append(f"${var}: {arg.type}")
                passed.append(f"{arg_name}: ${var}")
                variables[var] = value
                if get_named_type(arg.type).name == UPLOAD:
                    uploads.append(var)
            if unknown:
                missing.append(f"GraphQL {operation} {name}: argument(s) {unknown}")
                continue
            selection = " { __typename }" if is_composite_type(get_named_type(f.type)) else ""
            head = f"{operation}({', '.join(declared)})" if declared else operation
            call = f"{name}({', '.join(passed)})" if passed else name
            document = f"{head} {{ {call}{selection} }}"
            attempts.append(
                GqlAttempt(operation, name, document, variables, uploads, _takes_an_id(f))
            )
    return attempts, missing
