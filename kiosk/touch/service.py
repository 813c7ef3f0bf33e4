"""``kiosk touch``: the touch app process. The one place where its real parts are wired."""

from __future__ import annotations

import logging
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

from waitress import create_server

from kiosk.settings import Settings
from kiosk.touch.app import HEALTH, create_app
from kiosk.touch.health import HealthReporter
from kiosk.touch.link import KioskLink

_LOGGER = logging.getLogger(__name__)

_SIGNALS = (signal.SIGTERM, signal.SIGINT)

SignalHandler = Callable[[int, FrameType | None], object] | int | signal.Handlers | None


def run(settings: Settings) -> int:
    """Serve the touch app until SIGTERM or SIGINT; then say offline and return 0.

    ``settings.mqtt`` is the kiosk's edge broker (user ``touch``); the edge broker bridges
    the kiosk's presence and rpc to the central broker.
    """
    link = KioskLink(settings)
    app = create_app(settings, link)
    health: HealthReporter = app.extensions[HEALTH]
    touch = settings.touch
    try:
        server = create_server(
            app, host=touch.host, port=touch.port, threads=touch.threads, ident="kiosk-touch"
        )
    except OSError as err:
        _LOGGER.error("cannot listen on %s:%s: %s", touch.host, touch.port, err)
        return 1
    with _stop_on_signals():
        try:
            link.start()
            health.start()
            _LOGGER.info("kiosk %s touch app on http://%s:%s/", link.kiosk, touch.host, touch.port)
            server.run()  # returns after SystemExit from the signal handler
        except SystemExit:
            pass  # the signal came before the server loop began
        finally:
            health.stop()
            link.stop()
            server.close()
    _LOGGER.info("touch app stopped")
    return 0


@contextmanager
def _stop_on_signals() -> Iterator[None]:
    """SIGTERM/SIGINT end the server loop; a second one during shutdown is ignored."""

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        for sig in _SIGNALS:
            signal.signal(sig, signal.SIG_IGN)
        _LOGGER.info("signal %s: stopping", signum)
        # waitress's loop treats SystemExit as "shut down cleanly".
        raise SystemExit(0)

    previous: dict[signal.Signals, SignalHandler] = {
        sig: signal.signal(sig, on_signal) for sig in _SIGNALS
    }
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
