"""Shared fixtures: real Mosquitto brokers started from the project's broker_config/."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kiosk.demo import launch_demo
from kiosk.netutil import free_port_block
from tests import brokers
from tests.brokers import RunningBroker


@pytest.fixture
def central_broker(tmp_path: Path) -> Iterator[RunningBroker]:
    """The central broker with users hub, observer and kiosk k1 (centre demo)."""
    with brokers.central_broker(tmp_path / "central") as broker:
        yield broker


@pytest.fixture
def edge_broker(tmp_path: Path, central_broker: RunningBroker) -> Iterator[RunningBroker]:
    """Kiosk k1's edge broker, bridged to ``central_broker``; users touch and bridge."""
    with brokers.edge_broker(tmp_path / "edge", central_broker) as broker:
        yield broker


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A whole ``kiosk demo`` with two kiosks, shared by the end-to-end and browser tests.

    Tests that share it must not assume which numbers are left: they compare with what the
    API answered. Tests that break parts on purpose start a demo of their own.
    """
    process, info = launch_demo(
        tmp_path_factory.mktemp("demo"), port_base=free_port_block(40), kiosks=2
    )
    try:
        yield info
    finally:
        process.terminate()
        process.wait(30)
