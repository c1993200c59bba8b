"""What browsers are told: `nosniff` on every answer, a Content-Security-Policy that forbids
framing on the HTML pages (GraphiQL, /docs, /redoc), and CORS only for configured origins."""

from __future__ import annotations

import base64
import hashlib
import re

from fastapi import FastAPI
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import HTTPConnection, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

NOSNIFF = (b"x-content-type-options", b"nosniff")

# GraphiQL (Strawberry's page) and Swagger UI / ReDoc (FastAPI's) load their scripts, styles
# and fonts from these CDNs. The dashboard issue vendors them; until then the policy must
# allow these origins, and only these. Scripts there are pinned by Strawberry with integrity
# hashes; inline scripts are allowed by their own sha256, never by 'unsafe-inline'.
CDN_ORIGINS = "https://unpkg.com https://cdn.jsdelivr.net"
FONT_ORIGINS = "https://fonts.googleapis.com https://fonts.gstatic.com"  # ReDoc's fonts
ICON_ORIGINS = "https://fastapi.tiangolo.com"  # Swagger UI's favicon

_HOST = re.compile(r"[A-Za-z0-9.\-]+(:[0-9]{1,5})?|\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?")
_INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.S | re.I)


class NoSniff:
    """Adds `X-Content-Type-Options: nosniff` to every HTTP answer (pure ASGI)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                if not any(name.lower() == NOSNIFF[0] for name, _ in headers):
                    headers.append(NOSNIFF)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_header)


def page_csp(html: str, conn: HTTPConnection) -> str:
    """The policy of one HTML page: its own inline scripts by hash, the CDNs, this server
    (websockets included, for GraphiQL's subscriptions), and no framing by anyone."""
    hashes = " ".join(
        "'sha256-{}'".format(
            base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")
        )
        for script in _INLINE_SCRIPT.findall(html)
    )
    host = conn.headers.get("host", "")
    ws = f" ws://{host} wss://{host}" if _HOST.fullmatch(host) else ""
    return "; ".join(
        (
            "default-src 'self'",
            f"script-src 'self' {hashes} {CDN_ORIGINS}".replace("  ", " "),
            f"style-src 'self' 'unsafe-inline' {CDN_ORIGINS} {FONT_ORIGINS}",
            f"img-src 'self' data: {CDN_ORIGINS} {ICON_ORIGINS}",
            f"font-src 'self' data: {CDN_ORIGINS} {FONT_ORIGINS}",
            f"connect-src 'self'{ws}",
            "worker-src 'self' blob:",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        )
    )


def html_page(html: str, conn: HTTPConnection, status_code: int = 200) -> HTMLResponse:
    headers = {"Content-Security-Policy": page_csp(html, conn), "X-Frame-Options": "DENY"}
    return HTMLResponse(html, status_code, headers=headers)


def add_doc_pages(app: FastAPI) -> None:
    """FastAPI's /docs and /redoc (created with docs_url=None, redoc_url=None), the same
    pages with the policy above."""
    openapi_url = app.openapi_url or "/openapi.json"
    redirect_url = "/docs/oauth2-redirect"

    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")
        page = get_swagger_ui_html(
            openapi_url=root + openapi_url,
            title=f"{app.title} - Swagger UI",
            oauth2_redirect_url=root + redirect_url,
        )
        return html_page(bytes(page.body).decode("utf-8"), request)

    async def swagger_redirect(request: Request) -> HTMLResponse:
        page = get_swagger_ui_oauth2_redirect_html()
        return html_page(bytes(page.body).decode("utf-8"), request)

    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")
        page = get_redoc_html(openapi_url=root + openapi_url, title=f"{app.title} - ReDoc")
        return html_page(bytes(page.body).decode("utf-8"), request)

    app.add_route("/docs", swagger_ui, include_in_schema=False)
    app.add_route(redirect_url, swagger_redirect, include_in_schema=False)
    app.add_route("/redoc", redoc, include_in_schema=False)


def add_cors(app: FastAPI, origins: list[str]) -> None:
    """Off unless CORS_ORIGINS names origins. Credentials travel in headers (a bearer token or
    x-api-key), never in cookies, so credentialed CORS is not needed."""
    if not origins:
        return
    app.add_middleware(
        CORSMiddleware,
        allow_origins=origins,
        allow_methods=["GET", "POST", "PUT", "DELETE", "OPTIONS"],
        allow_headers=["Authorization", "Content-Type", "x-api-key"],
        max_age=600,
    )
