"""Where things are: the central broker's files, the endpoint kiosks dial, the deployment
secret and the bundles folder (a production host's defaults, or a running demo's), and
the error every part of enrolment raises."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from kiosk.enroll.files import write_private
from kiosk.settings import Settings, load_settings

# Debian's Mosquitto: /etc/mosquitto/mosquitto.conf sets pid_file to this.
DEFAULT_PASSWD = Path("/etc/mosquitto/passwd")
DEFAULT_ACL = Path("/etc/mosquitto/acl")
DEFAULT_PID_FILE = Path("/run/mosquitto/mosquitto.pid")
DEFAULT_SECRET = Path("/etc/kiosk/deployment.secret")
DEFAULT_TLS_PORT = 8883


class EnrolError(RuntimeError):
    """Enrolment or revocation cannot go on; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class CentralBrokerFiles:
    """The central Mosquitto's password and ACL files, and how to make it reread them."""

    passwd_file: Path
    acl_file: Path
    pid: int | None = None
    pid_file: Path | None = None
    reload: bool = True

    def broker_pid(self) -> int | None:
        if self.pid is not None:
            return self.pid
        if self.pid_file is not None and self.pid_file.is_file():
            text = self.pid_file.read_text(encoding="ascii").strip()
            return int(text) if text.isdigit() else None
        return None


@dataclass(frozen=True, slots=True)
class Endpoint:
    """How a kiosk's bridge reaches the central broker."""

    host: str
    port: int
    ca_file: Path | None = None  # TLS when set
    client_ca: Path | None = None  # a `kiosk ca` folder: also issue a client certificate

    @property
    def tls(self) -> bool:
        return self.ca_file is not None


@dataclass(frozen=True, slots=True)
class Target:
    """Everything enrolment touches."""

    broker: CentralBrokerFiles
    endpoint: Endpoint
    secret_file: Path
    bundles_dir: Path
    # The hub's settings: its database (registry, audit log) and MQTT user (to clear a
    # revoked kiosk's retained topics). None: neither is done.
    hub: Settings | None = None
    # Only the demo makes a deployment secret on first use; a production hub has one, and
    # inventing a second would split the fleet's person keys.
    create_secret: bool = False
    # Bundles made for a demo run on this machine: paths point into the bundle itself.
    local_bundles: bool = False


def target_from_state_dir(state_dir: Path) -> Target:
    """The running demo in ``state_dir`` (``kiosk demo --state-dir``)."""
    state_dir = state_dir.resolve()
    info_path = state_dir / "demo.json"
    if not info_path.is_file():
        raise EnrolError(f"no demo.json in {state_dir}: is `kiosk demo` running there?")
    info = json.loads(info_path.read_text(encoding="utf-8"))
    central = state_dir / "central"
    hub_config = state_dir / "config" / "hub.json"
    pid = info.get("pids", {}).get("central-broker")
    return Target(
        broker=CentralBrokerFiles(
            passwd_file=central / "passwd",
            acl_file=central / "acl",
            pid=int(pid) if pid else None,
        ),
        endpoint=Endpoint("127.0.0.1", int(info["ports"]["central_broker"])),
        secret_file=_demo_secret_file(state_dir),
        bundles_dir=state_dir / "bundles",
        hub=load_settings(hub_config) if hub_config.is_file() else None,
        create_secret=True,
        local_bundles=True,
    )


def _demo_secret_file(state_dir: Path) -> Path:
    """The demo's deployment secret: secrets.json's ``deployment`` once the demo makes one,
    else ``hub/deployment.secret`` (made on first use)."""
    known = state_dir / "secrets.json"
    path = state_dir / "hub" / "deployment.secret"
    if known.is_file() and not path.exists():
        value = json.loads(known.read_text(encoding="utf-8")).get("deployment")
        if isinstance(value, str) and value:
            write_private(path, value + "\n")
    return path
