"""GraphQL twins of the spec's "数据库管理" endpoints: the database in use, the live switch."""

from __future__ import annotations

from typing import Annotated

import strawberry

from domain.database import DatabaseStatus as DomainStatus
from domain.errors import Conflict
from graphql_schema.context import Info
from graphql_schema.payloads import UserError, attempt


@strawberry.type(description="How many records the database holds of one kind.")
class RecordCount:
    kind: str = strawberry.field(description="e.g. users, instances, messages, events.")
    count: int = strawberry.field(description="How many are stored now (or were copied).")


def _counts(counts: dict[str, int] | None) -> list[RecordCount] | None:
    if counts is None:
        return None
    return [RecordCount(kind=k, count=n) for k, n in counts.items()]


@strawberry.type(description="The database in use (admin only).")
class DatabaseStatus:
    provider: str = strawberry.field(description="sqlite, postgresql or mongodb.")
    url: str = strawberry.field(description="The database's URL, the password masked.")
    healthy: bool = strawberry.field(description="Whether the database answered just now.")
    counts: list[RecordCount] = strawberry.field(
        description="Records per kind; empty when the database did not answer."
    )

    @classmethod
    def from_domain(cls, status: DomainStatus) -> DatabaseStatus:
        return cls(
            provider=status.provider,
            url=status.url,
            healthy=status.healthy,
            counts=_counts(status.counts) or [],
        )


@strawberry.type(description="The outcome of switchDatabase.")
class SwitchDatabasePayload:
    success: bool = strawberry.field(description="Whether the server now uses the provider.")
    message: str | None = strawberry.field(description="What happened, in words.")
    provider: str | None = strawberry.field(description="The provider in use afterwards.")
    migrated: list[RecordCount] | None = strawberry.field(
        description="Records per kind on the target once switched (copied now or found there "
        "from a previous copy); null when switched without migrate or refused."
    )
    user_errors: list[UserError] = strawberry.field(
        description="Why nothing changed: an unknown or unconfigured provider "
        "(validation_error), or a refused switch, whose code is the reason: "
        "current_provider, switch_running, target_unreachable, migration_failed, "
        "target_not_empty, copy_failed, writes_busy, bad_url."
    )


@strawberry.type
class DatabaseQuery:
    @strawberry.field(description="The database in use: provider, URL, health, record counts.")
    async def database_status(self, info: Info) -> DatabaseStatus:
        c = info.context.container
        status = await c.databases.status(await info.context.principal())
        return DatabaseStatus.from_domain(status)


@strawberry.type
class DatabaseMutation:
    @strawberry.mutation(
        description="Switches the server to another database provider without a restart "
        "(admin only). With migrate, every record is copied into the target (which must be "
        "empty) while writes wait; a refused switch leaves the current provider in place."
    )
    async def switch_database(
        self,
        info: Info,
        provider: Annotated[str, strawberry.argument(description="sqlite, postgresql or mongodb.")],
        migrate: Annotated[
            bool,
            strawberry.argument(description="Copy every record into the (empty) target first."),
        ] = False,
    ) -> SwitchDatabasePayload:
        c = info.context.container
        principal = await info.context.principal()
        try:
            result, errors = await attempt(c.databases.switch(principal, provider, migrate), None)
        except Conflict as refused:
            return SwitchDatabasePayload(
                success=False,
                message=refused.message,
                provider=c.databases.provider,
                migrated=None,
                user_errors=[
                    UserError(
                        field=None,
                        code=str(refused.details.get("reason", refused.code)),
                        message=refused.message,
                    )
                ],
            )
        if result is None:
            return SwitchDatabasePayload(
                success=False,
                message=None,
                provider=c.databases.provider,
                migrated=None,
                user_errors=errors,
            )
        return SwitchDatabasePayload(
            success=True,
            message=result.message,
            provider=result.provider,
            migrated=_counts(result.migrated),
            user_errors=[],
        )
