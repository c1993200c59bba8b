"""GraphQL twins of the spec's "统计和监控" endpoints (GET /api/stats/...), same shapes."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any, NewType

import strawberry

from domain.counters import DAILY_COUNTERS, spec_usage
from graphql_schema.context import Info

# Counters grow past GraphQL's 32-bit Int (totalMediaSize is in bytes), so they use Long;
# the schema maps it to LONG_SCALAR (StrawberryConfig.scalar_map).
Long = NewType("Long", int)
LONG_SCALAR = strawberry.scalar(
    name="Long",
    description="A whole number that may pass 2^31 - 1; a JSON number.",
    serialize=int,
    parse_value=int,
)


def _fields(spec: dict[str, int]) -> dict[str, Any]:
    """The API document's counter names as this schema's Python field names."""
    return {_snake(name): value for name, value in spec.items()}


def _snake(name: str) -> str:
    return re.sub(r"([A-Z])", r"_\1", name).lower()


SENT = "Messages sent (text and media), as counted against maxMessagesSent."
RECEIVED = "Messages received."
MEDIA_SENT = (
    "Media messages sent (images, video, audio, documents), as counted against maxMediaSent."
)
MEDIA_RECEIVED = "Media messages received."


@strawberry.type(description="Usage counters, summed over the period asked for.")
class UsageCounters:
    messages_sent: Long = strawberry.field(description=SENT)
    messages_received: Long = strawberry.field(description=RECEIVED)
    media_sent: Long = strawberry.field(description=MEDIA_SENT)
    media_received: Long = strawberry.field(description=MEDIA_RECEIVED)
    total_media_size: Long = strawberry.field(description="bytes, sent and received")
    api_calls: Long = strawberry.field(
        description="Calls to the instance's own endpoints (REST and GraphQL), as counted "
        "against maxApiCalls."
    )
    webhook_sent: Long = strawberry.field(
        description="Webhook deliveries the receiver accepted (a 2xx answer)."
    )


@strawberry.type(description="A user's usage over the period: the sum, and per instance.")
class UserStatsTotal(UsageCounters):
    instance_count: int = strawberry.field(description="The user's instances now.")


@strawberry.type(description="One instance's usage over the period.")
class InstanceUsageRow(UsageCounters):
    instance_id: strawberry.ID = strawberry.field(description="The instance.")
    name: str = strawberry.field(description="The instance's name.")


@strawberry.type(description="The caller's usage, as GET /api/stats/user.")
class UserStats:
    total: UserStatsTotal = strawberry.field(description="Summed over the caller's instances.")
    instances: list[InstanceUsageRow] = strawberry.field(
        description="One row per instance of the caller, oldest instance first."
    )


@strawberry.type(description="One UTC day; days without any usage are left out.")
class DailyUsage:
    date: datetime = strawberry.field(description="the day's 00:00:00.000Z")
    messages_sent: Long = strawberry.field(description=SENT)
    messages_received: Long = strawberry.field(description=RECEIVED)
    media_sent: Long = strawberry.field(description=MEDIA_SENT)
    media_received: Long = strawberry.field(description=MEDIA_RECEIVED)


@strawberry.type(description="An instance's usage over the period, with a row per day.")
class InstanceUsage(UsageCounters):
    daily_stats: list[DailyUsage] = strawberry.field(
        description="The days of the period with any usage, oldest first."
    )


@strawberry.type(description="An instance's statistics, as GET /api/stats/instance/{id}.")
class InstanceStats:
    usage: InstanceUsage = strawberry.field(description="Its usage over the period.")


@strawberry.type(description="How many there are, and how many are active.")
class TotalAndActive:
    total: int = strawberry.field(description="All of them.")
    active: int = strawberry.field(
        description="Instances: connected now; users: active accounts with a connected "
        "instance or a login in the last 30 days."
    )


@strawberry.type(description="The whole server's figures (admin), as GET /api/stats/system.")
class SystemStats:
    instances: TotalAndActive = strawberry.field(description="Instances, and connected ones.")
    users: TotalAndActive = strawberry.field(description="Users, and active ones.")
    usage: UsageCounters = strawberry.field(description="Every instance's usage, summed.")


@strawberry.type
class StatsQuery:
    @strawberry.field(description="Usage of the caller's instances; period week|month|year|all.")
    async def user_stats(self, info: Info, period: str | None = None) -> UserStats:
        c = info.context.container
        usage = await c.usage.for_user(await info.context.principal(), period)
        return UserStats(
            total=UserStatsTotal(
                **_fields(spec_usage(usage.total)), instance_count=len(usage.instances)
            ),
            instances=[
                InstanceUsageRow(
                    instance_id=strawberry.ID(r.instance.id),
                    name=r.instance.name,
                    **_fields(spec_usage(r.counters)),
                )
                for r in usage.instances
            ],
        )

    @strawberry.field(
        description="Usage of one instance with a row per day; period today|week|month|all.",
        deprecation_reason="Use Instance.stats.",
    )
    async def instance_stats(
        self, info: Info, instance_id: strawberry.ID, period: str | None = None
    ) -> InstanceStats:
        c = info.context.container
        total, daily = await c.usage.for_instance(
            await info.context.principal(), str(instance_id), period
        )
        return instance_stats(total, daily)

    @strawberry.field(description="Instances, users and usage of the whole server (admin only).")
    async def system_stats(self, info: Info) -> SystemStats:
        c = info.context.container
        stats = await c.usage.for_system(await info.context.principal())
        return SystemStats(
            instances=TotalAndActive(**stats["instances"]),
            users=TotalAndActive(**stats["users"]),
            usage=UsageCounters(**_fields(spec_usage(stats["usage"]))),
        )


def instance_stats(
    total: dict[str, int], daily: list[tuple[date, dict[str, int]]]
) -> InstanceStats:
    days = [
        DailyUsage(date=_midnight(day), **_fields(spec_usage(counters, DAILY_COUNTERS)))
        for day, counters in daily
    ]
    return InstanceStats(usage=InstanceUsage(**_fields(spec_usage(total)), daily_stats=days))


def usage_counters(counters: dict[str, int]) -> UsageCounters:
    return UsageCounters(**_fields(spec_usage(counters)))


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)
