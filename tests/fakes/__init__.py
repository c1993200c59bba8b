"""In-memory fakes of the ports, one module per port, for unit tests of the use cases (no I/O).

`from tests.fakes import X` keeps working for every fake: they are re-exported here."""

from tests.fakes.bus import RecordingBus
from tests.fakes.clock import FakeClock, SequentialIds
from tests.fakes.engine import FakeConnections, FakeEngine
from tests.fakes.media import FakeFetcher, MemoryMediaStore
from tests.fakes.security import FakeTokens, PlainBox, PlainHasher
from tests.fakes.storage import MemoryState, MemoryStorage, MemoryUnitOfWork, UsageRow
from tests.fakes.webhooks import RecordingTransport, StaticResolver

__all__ = [
    "FakeClock",
    "FakeConnections",
    "FakeEngine",
    "FakeFetcher",
    "FakeTokens",
    "MemoryMediaStore",
    "MemoryState",
    "MemoryStorage",
    "MemoryUnitOfWork",
    "PlainBox",
    "PlainHasher",
    "RecordingBus",
    "RecordingTransport",
    "SequentialIds",
    "StaticResolver",
    "UsageRow",
]
