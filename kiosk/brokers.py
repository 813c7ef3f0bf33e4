"""Mosquitto configs from the templates in ``broker_config/``, and starting a broker.

Used by ``kiosk demo``, the test fixtures and enrolment, so every broker this project runs
has passwords, ACLs and TCP_NODELAY, even on a developer's laptop.
"""

from __future__ import annotations

import getpass
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from string import Template

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "broker_config"


class BrokerSetupError(RuntimeError):
    """Mosquitto or its tools are missing, or a config could not be written."""


def _render(name: str, **values: object) -> str:
    template = Template((TEMPLATE_DIR / name).read_text(encoding="utf-8"))
    return template.substitute({k: str(v) for k, v in values.items()})


def _write_private(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)


def mosquitto_binary() -> str:
    for candidate in (shutil.which("mosquitto"), "/usr/sbin/mosquitto"):
        if candidate and Path(candidate).exists():
            return candidate
    raise BrokerSetupError("mosquitto is not installed (Debian: apt-get install mosquitto)")


def write_password_file(path: Path, users: dict[str, str]) -> None:
    """Write ``users`` hashed (PBKDF2-SHA512) with Mosquitto's own tool."""
    tool = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"
    _write_private(path, "".join(f"{user}:{password}\n" for user, password in users.items()))
    result = subprocess.run(  # noqa: S603 - fixed tool, our own file
        [tool, "-U", str(path)], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise BrokerSetupError(f"mosquitto_passwd failed: {result.stderr.strip()}")


@dataclass(frozen=True)
class CentralBroker:
    """What the central broker's config needs."""

    port: int
    users: dict[str, str]
    kiosks: dict[str, str] = field(default_factory=dict)  # kiosk id → centre
    bind: str = "127.0.0.1"
    hub_user: str = "hub"
    observer_user: str = "observer"
    tls: str = ""  # a TLS listener block, from kiosk.ca.TlsListener(...).config()

    def write(self, directory: Path) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "data").mkdir(exist_ok=True)
        write_password_file(directory / "passwd", self.users)
        sections = "".join(
            _render("central-kiosk.acl.template", kiosk=kiosk, centre=centre)
            for kiosk, centre in sorted(self.kiosks.items())
        )
        acl = _render(
            "central.acl.template",
            hub_user=self.hub_user,
            observer_user=self.observer_user,
            kiosk_sections=sections,
        )
        _write_private(directory / "acl", acl)
        conf = directory / "mosquitto.conf"
        text = _render(
            "central.conf.template",
            port=self.port,
            bind=self.bind,
            password_file=directory / "passwd",
            acl_file=directory / "acl",
            data_dir=directory / "data",
            log_file=directory / "mosquitto.log",
            run_user=getpass.getuser(),
        )
        _write_private(conf, text + self.tls)
        return conf


@dataclass(frozen=True)
class EdgeBroker:
    """What a kiosk's edge broker config needs, bridge included."""

    kiosk: str
    centre: str
    port: int
    central_host: str
    central_port: int
    kiosk_password: str
    users: dict[str, str]  # must hold touch_user and bridge_user
    touch_user: str = "touch"
    bridge_user: str = "bridge"
    bridge_tls: str = ""

    def write(self, directory: Path) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "data").mkdir(exist_ok=True)
        write_password_file(directory / "passwd", self.users)
        _write_private(
            directory / "acl",
            _render(
                "edge.acl.template",
                kiosk=self.kiosk,
                centre=self.centre,
                touch_user=self.touch_user,
                bridge_user=self.bridge_user,
            ),
        )
        conf = directory / "mosquitto.conf"
        _write_private(
            conf,
            _render(
                "edge.conf.template",
                kiosk=self.kiosk,
                centre=self.centre,
                port=self.port,
                password_file=directory / "passwd",
                acl_file=directory / "acl",
                data_dir=directory / "data",
                log_file=directory / "mosquitto.log",
                run_user=getpass.getuser(),
                central_host=self.central_host,
                central_port=self.central_port,
                kiosk_password=self.kiosk_password,
                bridge_tls=self.bridge_tls,
            ),
        )
        return conf


def start_mosquitto(conf: Path) -> subprocess.Popen[bytes]:
    """Start Mosquitto in the foreground of a child process (the caller keeps the PID)."""
    log = (conf.parent / "stdout.log").open("ab")
    return subprocess.Popen(  # noqa: S603 - our own binary and config
        [mosquitto_binary(), "-c", str(conf)],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env={**os.environ},
    )
