"""What browsers are told: `nosniff` on every answer, a Content-Security-Policy that forbids
framing on the HTML pages (GraphiQL, /docs, /redoc), and CORS only for configured origins.

The explorers' scripts and styles are the app's own static files (`public/vendor/`, vendored
from npm at pinned versions with their licences), so GraphiQL and Swagger UI work on a host
that cannot reach a CDN, and the policy names no origin but this server."""

from __future__ import annotations

import base64
import hashlib
import os
import re
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import HTTPConnection, Request
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

NOSNIFF = (b"x-content-type-options", b"nosniff")

# The checkout's `public/`; an installed copy (the Docker image) names it in PUBLIC_DIR.
PUBLIC_DIR = Path(os.environ.get("PUBLIC_DIR") or Path(__file__).resolve().parents[1] / "public")
VENDOR_URL = "/vendor"
# The CDN addresses Strawberry's GraphiQL page loads from, and their local copies: the files
# are byte-identical (the page's integrity hashes still hold — a test checks each one).
GRAPHIQL_CDN = "https://unpkg.com/"
SWAGGER_UI = "swagger-ui-dist@5.35.0"
REDOC = "redoc@2.5.4"

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
    """The policy of one HTML page: its own inline scripts by hash, this server
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
            f"script-src 'self' {hashes}".rstrip(),
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data:",
            "font-src 'self' data:",
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


def local_graphiql(html: str, root_path: str = "") -> str:
    """Strawberry's GraphiQL page with its CDN addresses turned into this server's copies."""
    return html.replace(GRAPHIQL_CDN, f"{root_path}{VENDOR_URL}/")


def add_vendor_files(app: FastAPI) -> None:
    """`/vendor/...`: the explorers' scripts, styles and licences, served from the app."""
    app.mount(VENDOR_URL, StaticFiles(directory=PUBLIC_DIR / "vendor"), name="vendor")


DASHBOARD_URL = "/app"


def add_dashboard(app: FastAPI) -> None:
    """The web dashboard: `/` is `public/index.html` (with the page policy above), its
    scripts and styles are `public/app/` under `/app/` — plain ES modules, no build step."""
    app.mount(DASHBOARD_URL, StaticFiles(directory=PUBLIC_DIR / "app"), name="dashboard")
    html = (PUBLIC_DIR / "index.html").read_text(encoding="utf-8")  # read once, not per request

    async def dashboard(request: Request) -> HTMLResponse:
        return html_page(html, request)

    app.add_route("/", dashboard, include_in_schema=False)


def add_doc_pages(app: FastAPI) -> None:
    """FastAPI's /docs and /redoc (created with docs_url=None, redoc_url=None), the same
    pages with the policy above and their assets served locally."""
    openapi_url = app.openapi_url or "/openapi.json"
    redirect_url = "/docs/oauth2-redirect"
    add_vendor_files(app)

    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")
        vendor = f"{root}{VENDOR_URL}/{SWAGGER_UI}"
        page = get_swagger_ui_html(
            openapi_url=root + openapi_url,
            title=f"{app.title} - Swagger UI",
            oauth2_redirect_url=root + redirect_url,
            swagger_js_url=f"{vendor}/swagger-ui-bundle.js",
            swagger_css_url=f"{vendor}/swagger-ui.css",
            swagger_favicon_url=f"{vendor}/favicon-32x32.png",
        )
        return html_page(bytes(page.body).decode("utf-8"), request)

    async def swagger_redirect(request: Request) -> HTMLResponse:
        page = get_swagger_ui_oauth2_redirect_html()
        return html_page(bytes(page.body).decode("utf-8"), request)

    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")
        page = get_redoc_html(
            openapi_url=root + openapi_url,
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}{VENDOR_URL}/{REDOC}/bundles/redoc.standalone.js",
            redoc_favicon_url=f"{root}{VENDOR_URL}/{SWAGGER_UI}/favicon-32x32.png",
            with_google_fonts=False,
        )
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
