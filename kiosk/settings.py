"""One typed settings object for every process, read from a TOML file and the environment.

Precedence: defaults < the TOML (or JSON) file (``--config`` or ``KIOSK_CONFIG``) < environment
variables ``KIOSK__SECTION__KEY`` (e.g. ``KIOSK__MQTT__PORT=1884``). Unknown keys are
errors, so a typo fails at start-up instead of being ignored. Secrets (passwords, the
deployment secret) belong in files readable by the service user only, never in the repo.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

ENV_PREFIX = "KIOSK__"


class SettingsError(ValueError):
    """The configuration cannot be used; the message says which key and why."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MqttSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(default=1883, ge=1, le=65535)
    username: str | None = None
    password: str | None = None
    keepalive: int = Field(default=15, ge=5, description="seconds; the Will fires after 1.5x")
    tls_ca_file: Path | None = None


class ServiceSettings(_Section):
    code: str
    name: str
    prefix: str = Field(pattern=r"^[A-Z]$")


class CentreSettings(_Section):
    code: str
    name: str
    services: list[ServiceSettings]


class KioskSettings(_Section):
    id: str = "k1"
    centre: str = "demo"
    deployment_secret_file: Path | None = Field(
        default=None, description="this kiosk's copy of the deployment secret (person keys)"
    )


class TouchSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8011, ge=1, le=65535)
    rpc_timeout: float = Field(default=3.0, gt=0, description="seconds to wait for the hub")
    services_ttl: float = Field(default=60.0, ge=0, description="seconds a services list is kept")
    threads: int = Field(default=32, ge=1)
    idle_prompt: float = Field(default=60.0, gt=0, description="seconds before 还在吗？")
    idle_forget: float = Field(default=15.0, gt=0, description="then seconds until forgotten")
    status_every: float = Field(default=2.0, gt=0, description="seconds between status polls")
    activity_every: float = Field(default=5.0, gt=0, description="touch reports, at most every")
    sleep_after: float = Field(default=120.0, gt=0, description="attract screen dims after")
    help_repeat_after: float = Field(
        default=30.0, gt=0, description="a repeated help press within this is not re-sent"
    )
    health_interval: float = Field(
        default=60.0, gt=0, description="seconds between health reports to the hub"
    )
    outbox_retry: float = Field(
        default=10.0, gt=0, description="seconds before an unacked event is sent again (doubling)"
    )
    outbox_window: int = Field(default=100, ge=1, description="events awaiting acks at once")
    outbox_replay_spread: float = Field(
        default=2.0, ge=0, description="seconds over which a replay after reconnect is spread"
    )


class PrinterSettings(_Section):
    port: str = "/dev/kiosk-printer"
    baudrate: int = 9600
    dsrdtr: bool = False
    encoding: Literal["gb18030", "gbk", "gb2312"] = "gb18030"
    paper_width_mm: Literal[58, 80] = 80
    native_qr: bool = True
    cut: bool = True
    spool_dir: Path = Path("/var/lib/kiosk/spool")


Pin = int | str  # a BCM number (17) or any name gpiozero accepts ("GPIO17", "BOARD11")


class IdReaderSettings(_Section):
    """The resident ID-card reader (SAM protocol over serial, 115200 8N1)."""

    enabled: bool = True
    port: str = Field(default="/dev/kiosk-idreader", description="device path or pyserial URL")
    baudrate: int = Field(default=115200, gt=0)
    poll_interval: float = Field(
        default=0.3, gt=0, le=5, description="seconds between find-card polls"
    )
    command_timeout: float = Field(
        default=0.5, gt=0, le=10, description="seconds for a reset, find or select answer"
    )
    read_timeout: float = Field(
        default=2.0, gt=0, le=10, description="seconds for the 1295-byte text and photo answer"
    )
    fault_retry: float = Field(
        default=5.0, gt=0, description="seconds between resets of a faulty SAM or a lost port"
    )


class GpioSettings(_Section):
    """Help button, status LED and motion sensor; a pin left out means "not fitted"."""

    enabled: bool = True
    pin_factory: Literal["auto", "mock"] = Field(
        default="auto", description="auto: gpiozero's default (lgpio on a Pi); mock: no hardware"
    )
    help_button: Pin | None = 17
    help_pull_up: bool = Field(default=True, description="button wired to ground")
    help_burst: float = Field(
        default=3.0, gt=0, description="presses closer than this are one call for help"
    )
    bounce_time: float = Field(default=0.05, ge=0, description="seconds of contact bounce")
    status_led: Pin | None = 27
    motion_sensor: Pin | None = 22
    motion_interval: float = Field(
        default=5.0, ge=0, description="at most one motion event per this many seconds"
    )


class BridgeSettings(_Section):
    printer: PrinterSettings = PrinterSettings()
    idreader: IdReaderSettings = IdReaderSettings()
    gpio: GpioSettings = GpioSettings()


class CaseUnitSettings(_Section):
    """A unit of the grid tree (street → community → grid) or a department."""

    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,63}$")
    name: str = Field(min_length=1, max_length=60)
    level: Literal["grid", "community", "street", "department"]
    parent: str | None = Field(default=None, description="the unit one level up")
    centre: str | None = Field(default=None, description="the centre of a community")
    buildings: list[str] = Field(default=[], description="building labels of a grid")


class CaseCategorySettings(_Section):
    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,63}$")
    name: str = Field(min_length=1, max_length=30)
    icon: str = Field(default="note", max_length=32)
    tier: str = "normal"
    unit: str | None = Field(default=None, description="default lead (else the community)")
    board: bool = Field(default=True, description="shown on the public board")


class CaseRouteSettings(_Section):
    category: str
    grid: str
    unit: str


def _demo_case_units() -> list[CaseUnitSettings]:
    def unit(id: str, name: str, level: str, parent: str | None = None, **kw: Any) -> Any:
        return CaseUnitSettings.model_validate(
            {"id": id, "name": name, "level": level, "parent": parent, **kw}
        )

    return [
        unit("jd-demo", "示范街道", "street"),
        unit("sq-dongfeng", "东风社区", "community", "jd-demo", centre="demo"),
        unit("sq-xihu", "西湖社区", "community", "jd-demo"),
        unit(
            "wg-df1", "东风第一网格", "grid", "sq-dongfeng", buildings=["1号楼", "2号楼", "3号楼"]
        ),
        unit("wg-df2", "东风第二网格", "grid", "sq-dongfeng", buildings=["5号楼", "6号楼"]),
        unit("wg-xh1", "西湖第一网格", "grid", "sq-xihu", buildings=["A座", "B座"]),
        unit("bm-water", "供水所", "department"),
        unit("bm-city", "城管执法队", "department"),
    ]


def _demo_case_categories() -> list[CaseCategorySettings]:
    rows = [
        ("environment", "环境卫生", "broom", "normal", None),
        ("repair", "设施维修", "wrench", "normal", None),
        ("water", "供水供暖", "drop", "urgent", "bm-water"),
        ("safety", "治安安全", "shield", "urgent", None),
        ("neighbours", "邻里纠纷", "handshake", "normal", None),
        ("proposal", "建言献策", "bulb", "complex", None),
    ]
    return [
        CaseCategorySettings(id=i, name=n, icon=icon, tier=tier, unit=u)
        for i, n, icon, tier, u in rows
    ]


class CasesSettings(_Section):
    """民情意见箱 and 党员提案 (docs/cases.md): the grid tree, categories, limits."""

    units: list[CaseUnitSettings] = Field(default_factory=_demo_case_units)
    categories: list[CaseCategorySettings] = Field(default_factory=_demo_case_categories)
    routes: list[CaseRouteSettings] = Field(
        default_factory=lambda: [
            CaseRouteSettings(category="environment", grid="wg-df1", unit="wg-df1"),
            CaseRouteSettings(category="repair", grid="wg-df1", unit="wg-df1"),
        ]
    )
    accept_hours: int = Field(default=8, ge=1, le=720)
    tiers: dict[str, int] = Field(
        default={"urgent": 24, "normal": 168, "complex": 360}, description="handling hours"
    )
    rating_window_hours: int = Field(default=168, ge=1)
    max_reworks: int = Field(default=2, ge=0)
    per_kiosk_per_hour: int = Field(default=30, ge=1, description="cases and supports")
    per_person_per_day: int = Field(default=5, ge=1, description="cases per identified resident")
    close_every_seconds: float = Field(default=600.0, gt=0, description="unrated-close sweep")


class HubSettings(_Section):
    database_url: str = "sqlite:////var/lib/kiosk/hub.sqlite3"
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    secret_key_file: Path | None = None
    threads: int = Field(default=16, ge=1)
    board_size: int = Field(default=8, ge=1, description="calls kept on the call display")
    centres: list[CentreSettings] = []
    offline_alert_minutes: int = Field(default=5, ge=1, description="offline this long: alert")
    alert_webhook_url: str | None = Field(default=None, description="POST alerts here")
    alert_webhook_secret_file: Path | None = Field(
        default=None, description="HMAC key that signs webhook bodies (X-Kiosk-Signature)"
    )
    session_hours: float = Field(default=12, gt=0, description="longest console login")
    session_idle_minutes: float = Field(default=60, gt=0, description="idle console logout")
    cookie_secure: bool = Field(default=False, description="Secure cookie even on plain HTTP")
    proxy_hops: int = Field(default=0, ge=0, description="trusted proxies (X-Forwarded-*)")
    metrics_token_file: Path | None = Field(
        default=None, description="bearer token for /metrics from other hosts"
    )
    display_frame_ancestors: str | None = Field(
        default=None, description="CSP frame-ancestors of the call display (None: any)"
    )
    command_expiry_seconds: int = Field(default=300, ge=1, description="remote commands expire")
    disk_alert_percent: float = Field(
        default=10.0, ge=0, le=100, description="alert when a kiosk's free disk is below this %"
    )
    temperature_alert_c: float = Field(
        default=75.0, description="alert when a kiosk's CPU is hotter than this (°C)"
    )
    outbox_alert_minutes: float = Field(
        default=15.0, gt=0, description="alert when a kiosk's oldest undelivered event is older"
    )
    health_keep_days: int = Field(
        default=8, ge=1, description="days of kiosk health and presence history kept"
    )
    deployment_secret_file: Path | None = Field(
        default=None, description="the hub's copy of the deployment secret"
    )
    cases: CasesSettings = Field(default_factory=CasesSettings)
    receipts_dir: Path | None = Field(
        default=None, description="printer simulators' receipts (<dir>/<kiosk>/<n>.png): demo"
    )


class Settings(_Section):
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    state_dir: Path = Path("/var/lib/kiosk")
    kiosk: KioskSettings = KioskSettings()
    mqtt: MqttSettings = MqttSettings()
    touch: TouchSettings = TouchSettings()
    bridge: BridgeSettings = BridgeSettings()
    hub: HubSettings = HubSettings()


def _env_overrides(env: Mapping[str, str]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for name, value in env.items():
        if not name.startswith(ENV_PREFIX):
            continue
        path = name[len(ENV_PREFIX) :].lower().split("__")
        node = tree
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
    return tree


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def load_settings(path: Path | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Read the TOML file (if any), apply ``KIOSK__…`` variables, validate everything."""
    env = os.environ if env is None else env
    path = path or (Path(env["KIOSK_CONFIG"]) if env.get("KIOSK_CONFIG") else None)
    data: dict[str, Any] = {}
    if path is not None:
        try:
            text = path.read_text(encoding="utf-8")
            # TOML for people; JSON for generated files (the demo writes its configs so).
            data = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
        except (OSError, ValueError) as err:
            raise SettingsError(f"cannot read settings file {path}: {err}") from err
    try:
        return Settings.model_validate(_merge(data, _env_overrides(env)))
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in err.errors()
        )
        raise SettingsError(f"invalid settings ({path or 'defaults'}): {problems}") from err
