"""The one place that wires adapters into use cases."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from adapters.bus.memory import InMemoryEventBus
from adapters.media.fetcher import HttpMediaFetcher
from adapters.media.files import FileMediaStore
from adapters.security import Argon2Passwords, FernetBox, JwtTokens
from adapters.storage.sql.uow import SqlStorage
from adapters.transport.neonize.process import WorkerTiming
from adapters.transport.neonize.supervisor import WorkerEngine, WorkerSettings
from adapters.transport.runtime import LocalConnections, SingleNodeOwnership
from adapters.transport.sandbox.engine import SandboxEngine, SandboxTiming
from adapters.webhooks.http import HttpWebhookTransport
from api.settings import DEFAULT_ADMIN_PASSWORD, Settings
from domain.connection import EngineEvents
from domain.contacts import Contacts
from domain.instances import Instances
from domain.media import MediaLibrary
from domain.messages import Messaging
from domain.numbers import NumberChecks
from domain.pairing import Pairing
from domain.ports import Clock, ConnectionListener, IdFactory
from domain.recorder import Recorder
from domain.sandbox import SandboxMessaging, SandboxUseCases
from domain.times import utc_now
from domain.usage import Usage
from domain.users import Accounts
from domain.webhook_delivery import WebhookDispatcher, Webhooks
from domain.workers import EngineWorkerView

log = logging.getLogger(__name__)


class SystemClock:
    def now(self):
        return utc_now()


def new_id() -> str:
    return str(uuid.uuid4())


@dataclass
class Container:
    settings: Settings
    storage: SqlStorage
    bus: InMemoryEventBus
    connections: LocalConnections
    accounts: Accounts
    instances: Instances
    sandbox: SandboxUseCases
    messaging: Messaging
    contacts: Contacts
    sandbox_traffic: SandboxMessaging
    usage: Usage
    webhooks: Webhooks
    dispatcher: WebhookDispatcher
    webhook_transport: HttpWebhookTransport
    pairing: Pairing
    numbers: NumberChecks
    engine_workers: EngineWorkerView

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
        resumed = await self.instances.resume_all()
        log.info("resumed %d instance(s)", resumed)
        # Started after the instances: deliveries left over from before a crash go out now.
        self.dispatcher.start()

    async def close(self) -> None:
        await self.dispatcher.close()
        await self.connections.close()
        await self.webhook_transport.close()
        await self.bus.close()
        await self.storage.close()


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


def build(
    settings: Settings, clock: Clock | None = None, ids: IdFactory | None = None
) -> Container:
    clock = clock or SystemClock()
    ids = ids or new_id
    secret = settings.resolve_jwt_secret()
    storage = SqlStorage(settings.sql_url())
    bus = InMemoryEventBus()
    recorder = Recorder(storage.unit_of_work, bus, clock, ids)
    media_store = FileMediaStore(settings.media_dir)
    library = MediaLibrary(storage.unit_of_work, media_store, clock, ids)
    fetcher = HttpMediaFetcher(
        settings.media_max_bytes, settings.media_fetch_timeout_s, settings.media_allow_private_urls
    )
    listener = EngineEvents(recorder, clock, library, ids)
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
    neonize = neonize_engine(settings, listener)
    engines = {"sandbox": sandbox, "neonize": neonize}
    connections = LocalConnections(engines, sandbox, SingleNodeOwnership())  # type: ignore[arg-type]
    accounts = Accounts(
        storage.unit_of_work,
        Argon2Passwords(),
        JwtTokens(secret, settings.token_lifetime, clock),
        FernetBox(secret),
        clock,
        ids,
        connections,
        media_store,
        principal_ttl_s=settings.auth_cache_ttl_ms / 1000,
    )
    instances = Instances(
        storage.unit_of_work,
        recorder,
        connections,
        bus,
        clock,
        ids,
        settings.whatsapp_engine,
        media_store,
    )
    sandbox_cases = SandboxUseCases(instances, connections)
    usage = Usage(storage.unit_of_work, recorder, instances, clock)
    transport = HttpWebhookTransport(settings.webhook_timeout_ms / 1000)

    dispatcher = WebhookDispatcher(
        storage.unit_of_work,
        transport,
        clock,
        poll_interval_s=settings.webhook_poll_interval_ms / 1000,
    )
    recorder.on_outbox = dispatcher.wake
    return Container(
        settings=settings,
        storage=storage,
        bus=bus,
        connections=connections,
        accounts=accounts,
        instances=instances,
        sandbox=sandbox_cases,
        messaging=Messaging(
            storage.unit_of_work,
            recorder,
            instances,
            connections,
            library,
            fetcher,
            clock,
            ids,
            settings.media_max_bytes,
            usage,
        ),
        contacts=Contacts(storage.unit_of_work, instances, connections, clock, ids),
        sandbox_traffic=SandboxMessaging(
            sandbox_cases, storage.unit_of_work, fetcher, clock, settings.media_max_bytes
        ),
        usage=usage,
        webhooks=Webhooks(storage.unit_of_work, instances, dispatcher, clock, ids),
        dispatcher=dispatcher,
        webhook_transport=transport,
        pairing=Pairing(instances, connections),
        numbers=NumberChecks(instances, connections),
        engine_workers=EngineWorkerView(neonize),
    )
