"""``kiosk hub``: the hub process. The one place where its real parts are wired together.

Start: migrate the database, start the fleet monitor (offline sweeps, alert webhook),
connect the MQTT worker (in the background, retrying until the broker answers), serve the
console with waitress. SIGTERM or SIGINT: stop taking HTTP requests (running ones finish),
publish the hub's retained offline state, disconnect, stop the monitor, close the
database, return 0.
"""

from __future__ import annotations

import logging
import signal
from dataclasses import dataclass
from types import FrameType
from typing import Any

import waitress

from kiosk.hub.app import create_app
from kiosk.hub.cases.rpc import CaseRpc
from kiosk.hub.cases.setup import build_store, every
from kiosk.hub.catalogue import Catalogue
from kiosk.hub.commands import CommandDesk
from kiosk.hub.db import Database, migrate
from kiosk.hub.desk import QueueDesk
from kiosk.hub.monitor import FleetMonitor
from kiosk.hub.options import hub_options, read_secret
from kiosk.hub.worker import HubWorker
from kiosk.settings import Settings

_LOGGER = logging.getLogger(__name__)


class _Stop(SystemExit):
    """Raised by the signal handler. A SystemExit, because waitress's loop closes its
    sockets and worker threads on exactly that (and KeyboardInterrupt), then returns."""


@dataclass
class _Hub:
    database: Database
    worker: HubWorker
    monitor: FleetMonitor
    server: Any  # waitress has no type hints

    def close(self) -> None:
        self.worker.stop()
        self.monitor.stop()
        self.database.dispose()


def run(settings: Settings) -> int:
    """Run the hub until SIGTERM or SIGINT; 0 after a clean stop, 1 if it cannot start."""
    stopping: list[int] = []

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        if stopping:
            return  # already stopping: a second Ctrl-C must not cut the farewell short
        stopping.append(signum)
        raise _Stop(0)

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    hub: _Hub | None = None
    try:
        hub = _start(settings)
        _LOGGER.info("hub console on http://%s:%s/", settings.hub.host, settings.hub.port)
        hub.server.run()  # returns once a signal closed it
    except _Stop:
        pass
    except Exception:
        _LOGGER.exception("the hub could not start")
        return 1
    finally:
        stopping.append(0)  # from here on, signals are ignored
        if hub is not None:
            hub.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    _LOGGER.info("hub stopped (signal %s)", stopping[0])
    return 0


def _start(settings: Settings) -> _Hub:
    migrate(settings.hub.database_url)
    database = Database(settings.hub.database_url)
    desk = QueueDesk(
        database, Catalogue.from_settings(settings.hub), board_size=settings.hub.board_size
    )
    options = hub_options(settings)
    monitor = FleetMonitor(database, options.fleet, clock=desk.now)
    commands = CommandDesk(database, clock=desk.now, expiry=options.command_expiry)
    worker = HubWorker(settings.mqtt, desk, monitor=monitor, commands=commands)
    commands.publisher = worker.publish_command
    cases = build_store(settings.hub.cases, database, desk.now)
    CaseRpc(
        cases,
        lambda kiosk: desk.centre_of(kiosk).code,
        secret=read_secret(settings.hub.deployment_secret_file),  # checks rating PINs
    ).install(worker.rpc, worker.intake)
    monitor.sweepers.append(every(settings.hub.cases.close_every_seconds, cases.close_unrated))
    monitor.sweepers.append(commands.expire_overdue)
    monitor.sweepers.append(desk.announce_new_day)
    monitor.start()
    worker.start()
    try:
        app = create_app(
            settings,
            desk,
            mqtt_connected=lambda: worker.is_connected,
            monitor=monitor,
            options=options,
            commands=commands,
            cases=cases,
        )
        server = waitress.create_server(
            app,
            host=settings.hub.host,
            port=settings.hub.port,
            threads=settings.hub.threads,
            ident="kiosk-hub",
        )
    except BaseException:
        worker.stop()
        monitor.stop()
        database.dispose()
        raise
    return _Hub(database, worker, monitor, server)
