"""One QR answer for both QR endpoints: JSON (the spec), or a PNG/SVG image via segno."""

from __future__ import annotations

import io

import segno
from fastapi import Response
from fastapi.responses import JSONResponse

from domain.errors import ValidationFailed
from domain.instances import QrResult

GENERATING = {
    "message": "QR code generation in progress. Please try again in a few seconds.",
    "status": "generating",
}


def qr_response(result: QrResult, fmt: str) -> Response:
    if fmt not in ("json", "png", "svg"):
        raise ValidationFailed("'format' must be json, png or svg", {"field": "format"})
    if result.qr_code is None:
        return JSONResponse(GENERATING, 202, headers={"Retry-After": "2"})
    if fmt == "json":
        return JSONResponse({"qrCode": result.qr_code})
    buffer = io.BytesIO()
    code = segno.make(result.qr_code, error="l")
    if fmt == "png":
        code.save(buffer, kind="png", scale=6, border=2)
        return Response(buffer.getvalue(), media_type="image/png")
    code.save(buffer, kind="svg", scale=6, border=2)
    return Response(buffer.getvalue(), media_type="image/svg+xml")
