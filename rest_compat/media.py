"""Serves stored media (a message's `mediaUrl`) to the owner of its instance."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Response

from api.deps import ContainerDep, PrincipalDep
from rest_compat import responses as r

router = APIRouter(prefix="/api/media", tags=["media"], responses=r.errors(401, 404))


@router.get("/{media_id}", response_class=Response, responses=r.MEDIA_FILE)
async def get_media(media_id: str, principal: PrincipalDep, c: ContainerDep) -> Response:
    media, data = await c.messaging.media(principal, media_id)
    disposition = f"inline; filename*=UTF-8''{quote(media.file_name)}"
    return Response(
        data,
        media_type=media.mime_type,
        headers={
            "Content-Disposition": disposition,
            "X-Content-Type-Options": "nosniff",
            "ETag": f'"{media.sha256}"',
        },
    )
