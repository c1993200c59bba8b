"""`wamux serve`: uvicorn with a shutdown that finishes what it started.

On SIGTERM (or Ctrl-C) uvicorn stops accepting connections and waits for the requests in
flight; then the lifespan closes the container (api.app.shutdown). Both share one budget,
SHUTDOWN_TIMEOUT, counted from the signal: requests get most of it, the flushes the rest."""

from __future__ import annotations

import gc
import time
from types import FrameType

import uvicorn

from api.logs import uvicorn_log_config
from api.settings import Settings

# What the requests in flight may use of SHUTDOWN_TIMEOUT; the flushes keep the rest.
REQUESTS_SHARE = 0.7


class StopClock:
    """When the stop was asked for; the lifespan's close gets what is left of the budget."""

    def __init__(self, budget_s: float) -> None:
        self.budget_s = budget_s
        self._since: float | None = None

    def mark(self) -> None:
        if self._since is None:
            self._since = time.monotonic()

    def remaining(self) -> float:
        if self._since is None:  # stopped another way (tests): the whole budget
            return self.budget_s
        return max(self.budget_s - (time.monotonic() - self._since), 0.1)


class GracefulServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, clock: StopClock) -> None:
        super().__init__(config)
        self._clock = clock

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self._clock.mark()
        super().handle_exit(sig, frame)


def serve(settings: Settings) -> None:
    from api.app import create_app

    clock = StopClock(settings.shutdown_timeout)
    app = create_app(settings, stop_clock=clock)
    # The modules' objects live as long as the process: out of the collector's sight, a full
    # collection under load walks only what requests create (shorter pauses, lower p99).
    gc.collect()
    gc.freeze()
    level = settings.log_level.lower()
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        log_config=uvicorn_log_config(),
        # Access lines are written at INFO: above it, uvicorn would still build each one.
        access_log=level in ("trace", "debug", "info"),
        timeout_graceful_shutdown=max(int(settings.shutdown_timeout * REQUESTS_SHARE), 1),
    )
    GracefulServer(config, clock).run()
