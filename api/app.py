"""The app factory: builds everything in the lifespan, nothing at import time."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from api import errors
from api.bootstrap import Container, build
from api.settings import Settings
from graphql_schema.schema import graphql_router
from rest_compat import (
    auth,
    chats,
    contacts,
    health,
    instances,
    media,
    messaging,
    sandbox,
    stats,
    users,
    webhooks,
    whatsapp,
)

log = logging.getLogger(__name__)


def _operation_id(route: APIRoute) -> str:
    """`instances_create`, `users_list`, `whatsapp_qr`: the tag, then the route's name without
    the tag's own word, so generated clients read `client.instances.create()`."""
    tag = str(route.tags[0]) if route.tags else "api"
    words = [w for w in route.name.split("_") if w not in (tag, tag.removesuffix("s"))]
    return f"{tag}_{'_'.join(words) or route.name}"


def _openapi(app: FastAPI) -> Callable[[], dict[str, Any]]:
    """FastAPI's document without its 422 answers: invalid input answers 400 with the shared
    error body here (`api.errors`), which every router declares instead."""

    def build() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            for operations in schema.get("paths", {}).values():
                for operation in operations.values():
                    operation.get("responses", {}).pop("422", None)
            for name in ("HTTPValidationError", "ValidationError"):
                schema.get("components", {}).get("schemas", {}).pop(name, None)
            app.openapi_schema = schema
        return app.openapi_schema

    return build


def create_app(settings: Settings | None = None, container: Container | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        c = container or build(settings)
        app.state.container = c
        await c.start()
        log.info(
            "wamux ready: storage=%s engine=%s",
            settings.database_provider,
            settings.whatsapp_engine,
        )
        try:
            yield
        finally:
            await c.close()

    app = FastAPI(
        title="wamux — WhatsApp multi-instance API",
        version="0.1.0",
        description="GraphQL at /graphql; REST under /api following the documented API.",
        lifespan=lifespan,
        generate_unique_id_function=_operation_id,
    )
    app.openapi = _openapi(app)  # type: ignore[method-assign]
    errors.install(app)
    for module in (
        health,
        auth,
        users,
        instances,
        whatsapp,
        messaging,
        contacts,
        chats,
        media,
        webhooks,
        stats,
        sandbox,
    ):
        app.include_router(module.router)
    app.include_router(graphql_router(), prefix="/graphql", include_in_schema=False)
    return app
