"""The OpenAPI document is a usable contract: typed 2xx bodies, media types, tidy ids."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import AppFactory

METHODS = ("get", "put", "post", "delete", "patch")
# Answers that are not JSON, and the media types their operations must declare.
NON_JSON = {
    ("get", "/api/instances/{instance_id}/qr"): {"image/png", "image/svg+xml"},
    ("get", "/api/whatsapp/{instance_id}/qr"): {"image/png", "image/svg+xml"},
    ("get", "/api/media/{media_id}"): {"*/*"},
}


@pytest.fixture
async def document(api_factory: AppFactory) -> dict[str, Any]:
    api = await api_factory()
    answer = await api.client.get("/openapi.json")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    return answer.json()  # type: ignore[no-any-return]


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if ref is None:
        return schema
    found: dict[str, Any] = document
    for part in ref.removeprefix("#/").split("/"):
        found = found[part]
    return found


def _documents_a_body(document: dict[str, Any], content: dict[str, Any]) -> bool:
    """A JSON answer counts when its schema names its keys (an object with properties, or an
    array of such objects)."""
    schema = content.get("application/json", {}).get("schema")
    if schema is None:
        return False
    schema = _resolve(document, schema)
    if schema.get("type") == "array":
        schema = _resolve(document, schema.get("items", {}))
    return bool(schema.get("properties"))


def test_at_least_95_percent_of_operations_type_their_2xx_body(document: dict[str, Any]) -> None:
    operations = _operations(document)
    assert len(operations) >= 45  # the whole REST layer is in the document
    untyped = []
    for method, path, operation in operations:
        for status, answer in operation["responses"].items():
            if not status.startswith("2"):
                continue
            content = answer.get("content", {})
            if (method, path) in NON_JSON and "application/json" not in content:
                continue  # a file, checked below
            if not _documents_a_body(document, content):
                untyped.append(f"{method.upper()} {path} -> {status}")
    typed_share = 1 - len(untyped) / len(operations)
    assert typed_share >= 0.95, untyped
    assert untyped == []  # today every one is typed: keep it that way


def test_every_non_json_answer_declares_its_media_type(document: dict[str, Any]) -> None:
    for (method, path), media_types in NON_JSON.items():
        declared = document["paths"][path][method]["responses"]["200"]["content"]
        assert media_types <= set(declared), (path, declared)
        for media_type in media_types:
            assert declared[media_type]["schema"]["type"] == "string", (path, media_type)
    media = document["paths"]["/api/media/{media_id}"]["get"]["responses"]["200"]["content"]
    assert "application/json" not in media  # a stored file is never a JSON body


def test_qr_declares_its_generating_answer(document: dict[str, Any]) -> None:
    for path in ("/api/instances/{instance_id}/qr", "/api/whatsapp/{instance_id}/qr"):
        generating = document["paths"][path]["get"]["responses"]["202"]["content"]
        schema = _resolve(document, generating["application/json"]["schema"])
        assert set(schema["required"]) == {"message", "status"}


def test_errors_are_the_shared_body_and_never_422(document: dict[str, Any]) -> None:
    error = document["components"]["schemas"]["ErrorBody"]
    assert set(error["properties"]) == {"error", "message", "details"}
    assert set(error["required"]) == {"error", "message"}
    for method, path, operation in _operations(document):
        answers = operation["responses"]
        # invalid input answers 400 with the shared body (api.errors), never FastAPI's 422
        assert "422" not in answers, (method, path)
        if path.startswith("/api/") and path != "/api/auth/login":
            assert "401" in answers, (method, path)
            schema = answers["401"]["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/ErrorBody"}, (method, path)
    assert "HTTPValidationError" not in document["components"]["schemas"]


def test_operation_ids_are_unique_and_read_well(document: dict[str, Any]) -> None:
    ids = [operation["operationId"] for _, _, operation in _operations(document)]
    assert len(ids) == len(set(ids)), sorted(ids)
    by_route = {(m, p): o["operationId"] for m, p, o in _operations(document)}
    assert by_route[("post", "/api/instances")] == "instances_create"
    assert by_route[("get", "/api/instances")] == "instances_list"
    assert by_route[("get", "/api/users/{user_id}")] == "users_get"
    assert by_route[("post", "/api/whatsapp/{instance_id}/send")] == "messaging_send_text"
    assert by_route[("get", "/api/whatsapp/{instance_id}/qr")] == "whatsapp_qr"
    for operation_id in ids:
        tag, _, rest = operation_id.partition("_")
        assert rest and tag not in rest.split("_"), operation_id  # no `instances_..._instances`


def test_answer_keys_are_the_documents_camel_case(document: dict[str, Any]) -> None:
    instance = document["components"]["schemas"]["InstanceDetail"]["properties"]
    assert {"userId", "webhookUrl", "webhookSettings", "connectionStatus"} <= set(instance)
    usage = document["components"]["schemas"]["Usage"]["properties"]
    assert set(usage) == {
        "messagesSent",
        "messagesReceived",
        "mediaSent",
        "mediaReceived",
        "totalMediaSize",
        "apiCalls",
        "webhookSent",
    }


def test_operations_that_need_credentials_declare_them(document: dict[str, Any]) -> None:
    schemes = document["components"]["securitySchemes"]
    assert schemes["bearer"] == {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    assert schemes["apiKey"] == {"type": "apiKey", "in": "header", "name": "x-api-key"}
    public = {("get", "/healthz"), ("get", "/readyz"), ("post", "/api/auth/login")}
    for method, path, operation in _operations(document):
        if (method, path) in public:
            assert "security" not in operation, (method, path)
        else:
            assert operation["security"] == [{"bearer": []}, {"apiKey": []}], (method, path)
