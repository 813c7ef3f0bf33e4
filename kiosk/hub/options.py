"""The hub's tunables, from ``settings.hub`` (see docs/hub.md), as the policies it uses."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from kiosk.hub.health import HealthLimits
from kiosk.hub.monitor import FleetPolicy
from kiosk.settings import Settings


@dataclass(frozen=True)
class SessionPolicy:
    """How long a console session lives, and whether its cookie is always Secure."""

    lifetime: timedelta = timedelta(hours=12)  # one working day
    idle: timedelta = timedelta(minutes=60)
    cookie_secure: bool = False


@dataclass(frozen=True)
class HubOptions:
    fleet: FleetPolicy = field(default_factory=FleetPolicy)
    session: SessionPolicy = field(default_factory=SessionPolicy)
    metrics_token: str | None = None
    display_frame_ancestors: str | None = None
    proxy_hops: int = 0
    command_expiry: int = 300


def read_secret(path: Path | None) -> bytes | None:
    if path is None:
        return None
    secret = Path(path).read_bytes().strip()
    if len(secret) < 16:
        raise ValueError(f"{path} holds fewer than 16 bytes")
    return secret


def hub_options(settings: Settings) -> HubOptions:
    hub = settings.hub

    token = read_secret(hub.metrics_token_file)
    return HubOptions(
        fleet=FleetPolicy(
            offline_after=timedelta(minutes=hub.offline_alert_minutes),
            webhook_url=hub.alert_webhook_url,
            webhook_secret=read_secret(hub.alert_webhook_secret_file),
            limits=HealthLimits(
                disk_free_percent=hub.disk_alert_percent,
                temperature_c=hub.temperature_alert_c,
                outbox_age=timedelta(minutes=hub.outbox_alert_minutes),
            ),
            keep_history=timedelta(days=hub.health_keep_days),
        ),
        session=SessionPolicy(
            lifetime=timedelta(hours=hub.session_hours),
            idle=timedelta(minutes=hub.session_idle_minutes),
            cookie_secure=hub.cookie_secure,
        ),
        metrics_token=token.decode() if token else None,
        display_frame_ancestors=hub.display_frame_ancestors,
        proxy_hops=hub.proxy_hops,
        command_expiry=hub.command_expiry_seconds,
    )
