"""The one place that wires adapters into use cases.

`build(settings)` wires the real adapters; every port can be replaced by keyword, and the
unit tests build their use cases here with in-memory fakes, so nothing is wired twice.
An adapter that is replaced is never constructed (building with fakes touches no disk).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from adapters.bus.memory import InMemoryEventBus
from adapters.bus.notices import InMemoryAccountNotices
from adapters.media.fetcher import HttpMediaFetcher
from adapters.media.files import FileMediaStore
from adapters.metrics.counting import CountingEventBus, CountingWebhookTransport
from adapters.metrics.prometheus import Metrics
from adapters.net.addresses import ListeningAddress
from adapters.net.resolver import SystemResolver
from adapters.security import Argon2Passwords, FernetBox, JwtTokens
from adapters.security.files import private_dir
from adapters.storage.sql.inventory import SqlInventory
from adapters.storage.sql.uow import SqlStorage
from adapters.storage.switchable import SwitchableInventory, SwitchableStorage
from adapters.transport.engine_workers import NoEngineWorkers
from adapters.transport.neonize.process import WorkerTiming
from adapters.transport.neonize.supervisor import WorkerEngine, WorkerSettings
from adapters.transport.runtime import LocalConnections, SingleNodeOwnership
from adapters.transport.sandbox.engine import SandboxEngine, SandboxTiming
from adapters.webhooks.http import HttpWebhookTransport
from adapters.webhooks.targets import CheckedTargets
from api.databases import ChoiceFile, ConfiguredBackends, choice_path, with_persisted_choice
from api.settings import DEFAULT_ADMIN_PASSWORD, Settings
from domain.api_calls import ApiCallCounter
from domain.connection import EngineEvents
from domain.contacts import Contacts
from domain.database import Databases
from domain.groups import Groups
from domain.instances import Instances
from domain.login_throttle import ThrottlePolicy
from domain.media import MediaLibrary
from domain.messages import Messaging
from domain.numbers import NumberChecks
from domain.pairing import Pairing
from domain.ports import (
    AccountNotices,
    Backend,
    Backends,
    Clock,
    ConnectionListener,
    Connections,
    EngineWorkers,
    EventBus,
    HostResolver,
    IdFactory,
    MediaFetcher,
    MediaStore,
    Ownership,
    PasswordHasher,
    RecordInventory,
    SecretBox,
    Storage,
    StorageGauges,
    TokenService,
    WebhookTargets,
    WebhookTransport,
    WhatsAppEngine,
)
from domain.recorder import Recorder
from domain.restore import Restore
from domain.rich import RichMessaging
from domain.sandbox import SandboxMessaging, SandboxUseCases
from domain.streams import StreamSlots
from domain.times import utc_now
from domain.usage import Usage
from domain.users import Accounts
from domain.webhook_delivery import Webhooks
from domain.webhook_dispatcher import WebhookDispatcher
from domain.webhook_targets import PrivateTargets, WebhookTargetPolicy
from domain.wire import whatsapp_message_id
from domain.workers import EngineWorkerView

log = logging.getLogger(__name__)

# Builds the engines other than the sandbox, which always runs beside them; keyed by the
# engine name an instance stores ("neonize").
EngineFactory = Callable[[ConnectionListener], Mapping[str, WhatsAppEngine]]


class SystemClock:
    def now(self) -> datetime:
        return utc_now()


def new_id() -> str:
    return str(uuid.uuid4())


@dataclass
class Container:
    settings: Settings
    storage: Storage
    bus: EventBus
    connections: Connections
    recorder: Recorder
    listener: EngineEvents
    media_store: MediaStore
    media_fetcher: MediaFetcher
    accounts: Accounts
    instances: Instances
    sandbox: SandboxUseCases
    messaging: Messaging
    contacts: Contacts
    sandbox_traffic: SandboxMessaging
    usage: Usage
    webhooks: Webhooks
    dispatcher: WebhookDispatcher
    webhook_transport: WebhookTransport
    pairing: Pairing
    numbers: NumberChecks
    engine_workers: EngineWorkerView
    restore: Restore
    metrics: Metrics
    inventory: RecordInventory
    rich: RichMessaging
    groups: Groups
    databases: Databases
    _restoring: asyncio.Task[int] | None = field(default=None, init=False, repr=False)

    async def start(self) -> None:
        await self.storage.migrate()
        s = self.settings
        if await self.accounts.ensure_admin(
            s.admin_email, s.admin_password, s.admin_first_name, s.admin_last_name
        ):
            log.info("created the admin account %s", s.admin_email)
        if s.admin_password == DEFAULT_ADMIN_PASSWORD:
            log.warning(
                "The admin account may still use the default password; set ADMIN_PASSWORD "
                "before the first start or change it with PUT /api/users/{id}."
            )
        # In the background: the server answers while instances come back, a bounded number
        # at a time (RESTORE_CONCURRENCY), each in its own engine's pace.
        self._restoring = asyncio.create_task(self.restore.run(), name="restore")
        # Deliveries left over from before a crash go out now.
        self.dispatcher.start()
        self.usage.calls.start()

    async def close(self) -> None:
        if self._restoring is not None:
            self._restoring.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._restoring
        await self.dispatcher.close()
        await self.connections.close()
        await self.usage.calls.close()  # the last counts, before the storage closes
        await self.webhook_transport.close()
        await self.bus.close()
        await self.storage.close()


class NoInventory:
    """For a storage given by keyword that has no inventory (in-memory fakes in unit tests)."""

    def kinds(self) -> list[str]:
        return []

    def schema_version(self) -> str:
        return "none"

    async def stored_version(self) -> str | None:
        return None

    def snapshot(self) -> Any:
        raise NotImplementedError("this storage cannot be exported")

    async def write(self, kind: str, records: Any) -> None:
        raise NotImplementedError("this storage cannot be imported into")

    def key(self, kind: str) -> tuple[str, ...]:
        raise NotImplementedError("this storage has no records to name")

    async def upsert(self, kind: str, records: Any) -> None:
        raise NotImplementedError("this storage cannot be imported into")

    async def delete(self, kind: str, keys: Any) -> None:
        raise NotImplementedError("this storage cannot be imported into")

    async def gauges(self) -> StorageGauges:
        return StorageGauges({}, 0)


def neonize_engine(settings: Settings, listener: ConnectionListener) -> WorkerEngine:
    """The real WhatsApp engine: neonize clients in supervised worker processes."""
    return WorkerEngine(
        listener,
        WorkerSettings(
            instances_dir=settings.instances_dir,
            instances_per_worker=settings.engine_worker_instances,
            timing=WorkerTiming(
                call_timeout_s=settings.engine_call_timeout_s,
                restart_base_s=settings.engine_restart_delay_ms / 1000,
                restart_max_s=settings.engine_restart_max_delay_ms / 1000,
            ),
            log_level=settings.log_level,
            proxy_url=settings.engine_proxy_url,
        ),
    )


def login_throttle_policy(settings: Settings) -> ThrottlePolicy:
    return ThrottlePolicy(
        account_attempts=settings.login_throttle_account_attempts,
        address_attempts=settings.login_throttle_address_attempts,
        base_delay_s=settings.login_throttle_base_delay_ms / 1000,
        max_delay_s=settings.login_throttle_max_delay_ms / 1000,
        window_s=settings.login_throttle_window_ms / 1000,
    )


def default_engines(settings: Settings) -> EngineFactory:
    def make(listener: ConnectionListener) -> Mapping[str, WhatsAppEngine]:
        return {"neonize": neonize_engine(settings, listener)}

    return make


def workers_of(engines: Mapping[str, WhatsAppEngine]) -> EngineWorkers:
    """The engine that runs worker processes (neonize's WorkerEngine), else an empty view."""
    found = engines.get("neonize")
    return found if isinstance(found, WorkerEngine) else NoEngineWorkers()


def inventory_of(storage: Storage) -> RecordInventory | None:
    """The inventory of a real storage given by keyword (None: a fake, which has none)."""
    if isinstance(storage, SqlStorage):
        return SqlInventory(storage)
    from adapters.storage.mongo.uow import MongoStorage

    if isinstance(storage, MongoStorage):
        from adapters.storage.mongo.inventory import MongoInventory

        return MongoInventory(storage)
    return None


def build(
    settings: Settings,
    *,
    clock: Clock | None = None,
    ids: IdFactory | None = None,
    message_ids: IdFactory | None = None,
    storage: Storage | None = None,
    bus: EventBus | None = None,
    account_notices: AccountNotices | None = None,
    connections: Connections | None = None,
    engines: EngineFactory | None = None,
    ownership: Ownership | None = None,
    password_hasher: PasswordHasher | None = None,
    token_service: TokenService | None = None,
    secret_box: SecretBox | None = None,
    media_store: MediaStore | None = None,
    media_fetcher: MediaFetcher | None = None,
    webhook_transport: WebhookTransport | None = None,
    resolver: HostResolver | None = None,
    webhook_targets: WebhookTargets | None = None,
    engine_workers: EngineWorkers | None = None,
    metrics: Metrics | None = None,
    inventory: RecordInventory | None = None,
    backends: Backends | None = None,
) -> Container:
    """Wires the use cases. Any port given by keyword replaces the real adapter.

    `connections` replaces the whole connection runtime (then `engines` and `ownership` are
    unused); `engines` replaces only the non-sandbox engines."""
    clock = clock or SystemClock()
    ids = ids or new_id
    if token_service is None or secret_box is None:
        # Read (or generated and kept in the data dir) only when a real adapter needs it.
        secret = settings.resolve_jwt_secret()
        token_service = token_service or JwtTokens(secret, settings.token_lifetime, clock)
        secret_box = secret_box or FernetBox(secret)
    metrics = metrics or Metrics()
    backends = backends or ConfiguredBackends(settings, secret_box, metrics)
    if storage is None:
        # A provider chosen by a live switch wins over DATABASE_PROVIDER (api/databases.py).
        settings = with_persisted_choice(settings)
        backend = backends.open(settings.database_provider)
    else:
        inventory = inventory or inventory_of(storage)
        backend = Backend(
            settings.database_provider, "(given)", storage, inventory or NoInventory()
        )
    # Every use case holds this facade: a switch swaps the backend behind it while serving.
    live = SwitchableStorage(backend)
    storage, inventory = live, SwitchableInventory(live)
    uow = storage.unit_of_work
    bus = bus or InMemoryEventBus()
    # Every event is published by the recorder once committed: counted on its way out.
    recorder = Recorder(uow, CountingEventBus(bus, metrics), clock, ids)
    media_store = media_store or FileMediaStore(settings.media_dir)
    library = MediaLibrary(uow, media_store, clock, ids)
    media_fetcher = media_fetcher or HttpMediaFetcher(
        settings.media_max_bytes, settings.media_fetch_timeout_s, settings.media_allow_private_urls
    )
    listener = EngineEvents(recorder, clock, library, ids)
    listener.keep_revoked = settings.keep_revoked_content
    others: Mapping[str, WhatsAppEngine] = {}
    if connections is None:
        # The engines keep device keys under the data dir: created 0700 before they write.
        private_dir(settings.instances_dir)
        sandbox = SandboxEngine(
            listener,
            settings.instances_dir,
            SandboxTiming(
                qr_delay_s=settings.sandbox_qr_delay_ms / 1000,
                qr_interval_s=settings.sandbox_qr_interval_ms / 1000,
                reconnect_base_s=settings.sandbox_reconnect_delay_ms / 1000,
                receipt_delay_s=settings.sandbox_receipt_delay_ms / 1000,
            ),
        )
        others = (engines or default_engines(settings))(listener)
        connections = LocalConnections(
            {**others, "sandbox": sandbox}, sandbox, ownership or SingleNodeOwnership()
        )
    accounts = Accounts(
        uow=uow,
        hasher=password_hasher or Argon2Passwords(),
        tokens=token_service,
        box=secret_box,
        clock=clock,
        ids=ids,
        connections=connections,
        media_store=media_store,
        notices=account_notices or InMemoryAccountNotices(),
        principal_ttl_s=settings.auth_cache_ttl_ms / 1000,
        throttle=login_throttle_policy(settings),
        recheck_s=settings.auth_recheck_interval_ms / 1000,
    )
    # One target policy for saving a webhook URL and for every delivery to it.
    target_policy = WebhookTargetPolicy(
        webhook_targets
        or CheckedTargets(
            resolver or SystemResolver(), ListeningAddress(settings.host, settings.port)
        ),
        PrivateTargets(settings.webhook_private_urls),
    )
    instances = Instances(
        uow=uow,
        recorder=recorder,
        connections=connections,
        bus=bus,
        clock=clock,
        ids=ids,
        default_engine=settings.whatsapp_engine,
        media_store=media_store,
        streams=StreamSlots(settings.graphql_max_subscriptions_per_user),
        webhook_targets=target_policy,
    )
    sandbox_cases = SandboxUseCases(instances, connections)
    usage = Usage(
        uow,
        recorder,
        instances,
        clock,
        ApiCallCounter(uow, interval_s=settings.api_calls_flush_interval_ms / 1000),
    )
    webhook_transport = webhook_transport or HttpWebhookTransport(
        settings.webhook_timeout_ms / 1000
    )
    dispatcher = WebhookDispatcher(
        uow,
        # every attempt (deliveries and tests) is counted on its way through
        CountingWebhookTransport(webhook_transport, metrics),
        clock,
        target_policy,
        poll_interval_s=settings.webhook_poll_interval_ms / 1000,
    )
    recorder.on_outbox = dispatcher.handoff
    message_ids = message_ids or whatsapp_message_id
    swapped: list[Callable[[Backend], None]] = [lambda _: accounts.forget_cached()]
    databases = Databases(
        live=live,
        backends=backends,
        choice=ChoiceFile(choice_path(settings)),
        connections=connections,
        on_swap=swapped,
        clock=clock,
    )
    container = Container(
        settings=settings,
        storage=storage,
        bus=bus,
        connections=connections,
        recorder=recorder,
        listener=listener,
        media_store=media_store,
        media_fetcher=media_fetcher,
        accounts=accounts,
        instances=instances,
        sandbox=sandbox_cases,
        messaging=Messaging(
            uow=uow,
            recorder=recorder,
            instances=instances,
            connections=connections,
            library=library,
            fetcher=media_fetcher,
            clock=clock,
            ids=ids,
            max_media_bytes=settings.media_max_bytes,
            usage=usage,
            message_ids=message_ids,
        ),
        contacts=Contacts(
            uow=uow, instances=instances, connections=connections, clock=clock, ids=ids
        ),
        sandbox_traffic=SandboxMessaging(
            sandbox=sandbox_cases,
            uow=uow,
            fetcher=media_fetcher,
            clock=clock,
            max_media_bytes=settings.media_max_bytes,
            message_ids=message_ids,
        ),
        usage=usage,
        webhooks=Webhooks(
            uow=uow, instances=instances, dispatcher=dispatcher, clock=clock, ids=ids
        ),
        dispatcher=dispatcher,
        webhook_transport=webhook_transport,
        pairing=Pairing(instances, connections),
        numbers=NumberChecks(instances, connections),
        engine_workers=EngineWorkerView(engine_workers or workers_of(others)),
        restore=Restore(
            uow=uow, connections=connections, bus=bus, concurrency=settings.restore_concurrency
        ),
        metrics=metrics,
        inventory=inventory,
        rich=RichMessaging(
            uow=uow,
            recorder=recorder,
            instances=instances,
            connections=connections,
            library=library,
            clock=clock,
            ids=ids,
            usage=usage,
            keep_revoked=settings.keep_revoked_content,
            message_ids=message_ids,
        ),
        groups=Groups(
            uow=uow,
            recorder=recorder,
            instances=instances,
            connections=connections,
            clock=clock,
            ids=ids,
        ),
        databases=databases,
    )

    def follow(backend: Backend) -> None:
        # The settings shown (readyz, logs) name the provider in use.
        container.settings = container.settings.model_copy(
            update={"database_provider": backend.provider}
        )

    swapped.append(follow)
    return container
