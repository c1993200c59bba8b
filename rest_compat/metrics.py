"""`GET /metrics`: Prometheus text format, behind `METRICS_TOKEN` when it is set."""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Request
from fastapi.responses import Response

from adapters.metrics.prometheus import CONTENT_TYPE
from api.deps import ContainerDep
from domain.errors import Unauthorized

router = APIRouter(tags=["metrics"])


@router.get("/metrics", name="metrics", include_in_schema=False)
async def metrics(request: Request, c: ContainerDep) -> Response:
    expected = c.settings.metrics_token
    if expected:
        given = request.headers.get("authorization", "")
        scheme, _, token = given.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            token.strip().encode(), expected.encode()
        ):
            raise Unauthorized("/metrics needs 'Authorization: Bearer <METRICS_TOKEN>'")
    body = await c.metrics.render(c.inventory.gauges, c.engine_workers.all)
    return Response(body, media_type=CONTENT_TYPE)
