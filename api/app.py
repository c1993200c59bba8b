"""The app factory: builds everything in the lifespan, nothing at import time."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from typing import Any, Protocol

from fastapi import APIRouter, FastAPI, params
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from adapters.metrics.prometheus import Metrics
from api import errors
from api.bootstrap import Container, build
from api.browser import NoSniff, add_cors, add_dashboard, add_doc_pages
from api.deps import get_principal
from api.request_body import RequestBodyLimits
from api.request_telemetry import RequestTelemetry
from api.settings import Settings
from graphql_schema.schema import graphql_router
from rest_compat import (
    auth,
    chats,
    contacts,
    db,
    engine,
    groups,
    health,
    instances,
    media,
    messaging,
    metrics,
    numbers,
    pairing,
    rich,
    sandbox,
    stats,
    users,
    webhooks,
    whatsapp,
)
from rest_compat.fast_incoming import FastSandboxIncoming
from rest_compat.fast_reads import FastReads
from rest_compat.fast_send import FastSendText

log = logging.getLogger(__name__)


def _operation_id(route: APIRoute) -> str:
    """`instances_create`, `users_list`, `whatsapp_qr`: the tag, then the route's name without
    the tag's own word, so generated clients read `client.instances.create()`."""
    tag = str(route.tags[0]) if route.tags else "api"
    words = [w for w in route.name.split("_") if w not in (tag, tag.removesuffix("s"))]
    return f"{tag}_{'_'.join(words) or route.name}"


# How a client proves who it is (`api.deps.get_principal`), for generated clients.
SECURITY_SCHEMES = {
    "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
    "apiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"},
}


TOO_LARGE = {
    "description": "The request body is larger than this endpoint accepts",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
}


def _needs_principal(dependant: Dependant) -> bool:
    return dependant.call is get_principal or any(
        _needs_principal(d) for d in dependant.dependencies
    )


def _secured(routers: Iterable[APIRouter]) -> set[tuple[str, str]]:
    """(method, path) of every operation that resolves the caller."""
    return {
        (method.lower(), route.path_format)
        for router in routers
        for route in router.routes
        if isinstance(route, APIRoute) and _needs_principal(route.dependant)
        for method in route.methods or ()
    }


def _openapi(app: FastAPI, secured: set[tuple[str, str]]) -> Callable[[], dict[str, Any]]:
    """FastAPI's document, adjusted to what the server does: no 422 answers (invalid input
    answers 400 with the shared error body of `api.errors`, which every router declares),
    and the two credentials on every operation that resolves the caller."""

    def build() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            for operations in schema["paths"].values():
                for operation in operations.values():
                    operation["responses"].pop("422", None)
                    if "requestBody" in operation:  # api.request_body caps every body
                        operation["responses"]["413"] = TOO_LARGE
            components = schema.setdefault("components", {})
            for name in ("HTTPValidationError", "ValidationError"):
                components.get("schemas", {}).pop(name, None)
            components["securitySchemes"] = SECURITY_SCHEMES
            for method, path in secured:
                schema["paths"][path][method]["security"] = [{"bearer": []}, {"apiKey": []}]
            app.openapi_schema = schema
        return app.openapi_schema

    return build


class ShutdownBudget(Protocol):
    def remaining(self) -> float: ...


def create_app(
    settings: Settings | None = None,
    container: Container | None = None,
    *,
    stop_clock: ShutdownBudget | None = None,
) -> FastAPI:
    settings = settings or Settings()
    # Made before the container, which is built in the lifespan: the middleware counts into it.
    app_metrics = container.metrics if container is not None else Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        c = container or build(settings, metrics=app_metrics)
        app.state.container = c
        await c.start()
        log.info(
            "wamux ready: storage=%s engine=%s",
            c.settings.database_provider,
            settings.whatsapp_engine,
        )
        try:
            yield
        finally:
            budget = stop_clock.remaining() if stop_clock else settings.shutdown_timeout
            await shutdown(c, budget)

    app = FastAPI(
        title="wamux — WhatsApp multi-instance API",
        version="0.1.0",
        description="GraphQL at /graphql; REST under /api following the documented API.",
        lifespan=lifespan,
        generate_unique_id_function=_operation_id,
        docs_url=None,  # served by api.browser, with a Content-Security-Policy
        redoc_url=None,
    )
    errors.install(app)
    add_doc_pages(app)
    add_dashboard(app)
    routers = [
        module.router
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
            metrics,
            rich,
            groups,
            db,
        )
    ]
    for router in routers:
        app.include_router(router)
    app.openapi = _openapi(app, _secured(routers))  # type: ignore[method-assign]
    app.include_router(graphql_router(), prefix="/graphql", include_in_schema=False)
    # Outermost last: nosniff on every answer, CORS headers on refusals too. The lean send,
    # sandbox incoming and read paths sit inside the body limits, beside the routes they
    # stand in for.
    app.add_middleware(FastSandboxIncoming)
    app.add_middleware(FastSendText)
    app.add_middleware(FastReads)
    app.add_middleware(
        RequestBodyLimits,
        json_max_bytes=settings.json_body_max_bytes,
        upload_max_bytes=settings.media_max_bytes,
        upload_paths=_upload_paths(routers),
    )
    add_cors(app, settings.cors_origin_list)
    app.add_middleware(NoSniff)
    # Outermost of all: the request id is set before anything logs, the time covers it all.
    app.add_middleware(RequestTelemetry, metrics=app_metrics)
    return app


async def shutdown(container: Container, timeout_s: float) -> None:
    """Closes the container (the dispatcher, engines and workers, the last API-call counts,
    the storage writer) within `timeout_s`; what is left then is abandoned, to be picked up
    after the next start (deliveries are in the outbox, events in the database)."""
    log.info("shutting down: flushing counters and outbox, stopping engines")
    try:
        await asyncio.wait_for(container.close(), timeout_s)
    except TimeoutError:
        log.error("shutdown did not finish within SHUTDOWN_TIMEOUT=%gs; exiting anyway", timeout_s)
    else:
        log.info("shutdown complete")


def _upload_paths(routers: Iterable[APIRouter]) -> list[re.Pattern[str]]:
    """The routes that take a file (multipart): REST routes with a File parameter, and
    /graphql (its `sendFile` takes an Upload)."""
    paths = [re.compile(r"^/graphql/?$")]
    for router in routers:
        for route in router.routes:
            if isinstance(route, APIRoute) and any(
                isinstance(p.field_info, params.File) for p in route.dependant.body_params
            ):
                paths.append(route.path_regex)
    return paths
