"""Runs the document limits of `graphql_schema.limits` in place of Strawberry's parse, and
validation after them, off the event loop."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from starlette.responses import Response
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document

from domain.validation import holds_lone_surrogate
from graphql_schema.limits import DocumentLimits, DocumentRefused, check_document

T = TypeVar("T")


@functools.cache
def _preparer() -> ThreadPoolExecutor:
    """The one thread that parses and validates documents (made on first use, not import)."""
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="graphql-prepare")


async def _off_loop(function: Callable[..., T], *args: Any) -> T:
    return await asyncio.get_running_loop().run_in_executor(
        _preparer(), functools.partial(function, *args)
    )


class DocumentLimiter(SchemaExtension):
    """Parses with `check_document` in place of Strawberry's parse, then validates: in one
    worker thread, so the event loop serves every other request meanwhile, and a flood of
    documents competes with it for the GIL from one thread, not from many. For HTTP and
    websockets alike; variables holding lone surrogates (not UTF-8 text) are refused too."""

    async def on_parse(self) -> AsyncIterator[None]:
        ctx = self.execution_context
        limits = DocumentLimits.from_settings(ctx.context.container.settings)
        try:
            if holds_lone_surrogate(ctx.variables):
                raise DocumentRefused(
                    400,
                    "validation_error",
                    "A variable holds a lone UTF-16 surrogate (such as \\ud800): "
                    "text must be valid Unicode",
                )
            ctx.graphql_document = await _off_loop(
                check_document, ctx.schema._schema, ctx.query or "", ctx.variables, limits
            )
        except DocumentRefused as refused:
            response = getattr(ctx.context, "response", None)
            if isinstance(response, Response):  # over HTTP: the status tells it, too
                response.status_code = refused.status
            raise refused.graphql_error() from None
        yield

    async def on_validate(self) -> AsyncIterator[None]:
        ctx = self.execution_context
        if ctx.graphql_document is not None and ctx.pre_execution_errors is None:
            # Strawberry skips its own validation once the errors are set (as its
            # ValidationCache extension does).
            ctx.pre_execution_errors = await _off_loop(
                validate_document, ctx.schema._schema, ctx.graphql_document, ctx.validation_rules
            )
        yield
