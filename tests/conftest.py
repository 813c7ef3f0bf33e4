"""Shared fixtures: real Mosquitto brokers started from the project's broker_config/."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

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
