"""Serves stored media (a message's `mediaUrl`) to the owner of its instance."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Response

from api.deps import ContainerDep, PrincipalDep
from rest_compat import responses as r

router = APIRouter(prefix="/api/media", tags=["media"], responses=r.errors(401, 404))

# What a browser may show in place: media it renders without running anything. SVG is an
# image that can carry script, so it is downloaded like everything else.
_INLINE = ("image/", "audio/", "video/")
_NEVER_INLINE = frozenset({"image/svg+xml"})


def disposition(mime_type: str, file_name: str) -> str:
    """`inline` for images, audio and video; `attachment` for the rest (text/html among it),
    so a file someone uploaded is never opened as a page on this server's origin."""
    mime = mime_type.split(";", 1)[0].strip().lower()
    inline = mime.startswith(_INLINE) and mime not in _NEVER_INLINE
    return f"{'inline' if inline else 'attachment'}; filename*=UTF-8''{quote(file_name)}"


@router.get("/{media_id}", response_class=Response, responses=r.MEDIA_FILE)
async def get_media(media_id: str, principal: PrincipalDep, c: ContainerDep) -> Response:
    media, data = await c.messaging.media(principal, media_id)
    return Response(
        data,
        media_type=media.mime_type,
        headers={
            "Content-Disposition": disposition(media.mime_type, media.file_name),
            # The type is the uploader's word: no sniffing it into something else, and
            # should a browser render it anyway, no script, no same-origin access.
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "sandbox",
            "ETag": f'"{media.sha256}"',
        },
    )
