"""The app factory: builds everything in the lifespan, nothing at import time."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.routing import APIRoute

from api import errors
from api.bootstrap import Container, build
from api.settings import Settings
from graphql_schema.schema import graphql_router
from rest_compat import (
    auth,
    chats,
    contacts,
    engine,
    health,
    instances,
    media,
    messaging,
    numbers,
    pairing,
    sandbox,
    stats,
    users,
    webhooks,
    whatsapp,
)

log = logging.getLogger(__name__)


def _operation_id(route: APIRoute) -> str:
    # Tidy ids (`instances_get_instance`) so generated clients read well.
    return f"{route.tags[0] if route.tags else 'api'}_{route.name}"


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
        pairing,
        numbers,
        engine,
    ):
        app.include_router(module.router)
    app.include_router(graphql_router(), prefix="/graphql", include_in_schema=False)
    return app
