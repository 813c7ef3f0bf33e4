"""``kiosk enroll`` and ``kiosk revoke``: a kiosk's credentials on the central broker.

Enrolling kiosk K for centre C:

1. a random MQTT password for user K, hashed with ``mosquitto_passwd`` into the central
   password file, and K's section in the central ACL (its centre's call board; the
   ``pattern`` rules already give every kiosk its own ``svc/v1/kiosk/K/`` subtree);
2. a bundle folder to install on the Pi: ``credentials.json``, the edge broker's config
   with the bridge (from ``broker_config/edge.conf.template``), its ACL and password file,
   the CA certificate (and a client certificate) when the link is TLS, the touch app's and
   firmware bridge's settings, and the kiosk's copy of the deployment secret;
3. SIGHUP to the central Mosquitto, which rereads its password and ACL files;
4. a check that the broker now accepts K, and K's enrolment in the hub's database.

Revoking K removes its password and ACL section and sends SIGHUP. Mosquitto 2.0 checks
every connected client against the reloaded password file and drops the ones that no
longer pass, so a revoked kiosk's live bridge is cut at once, and every reconnect is
refused (``tests/security`` shows both). The kiosk's retained topics are then cleared, so
a hub restart does not bring it back on the fleet page.

Both work on a production host (``--config hub.toml`` and the broker's files) and on a
running demo (``--state-dir DIR``).
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import getpass
import json
import logging
import os
import re
import secrets
import shutil
import signal
import ssl
import sys
import tempfile
import threading
import time
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from string import Template
from typing import Any, get_args

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from kiosk.brokers import TEMPLATE_DIR, BrokerSetupError, write_password_file
from kiosk.ca import Authority, CaError, CertPair, issue_client
from kiosk.netutil import free_port
from kiosk.protocol import topics
from kiosk.protocol.client import MqttLink
from kiosk.protocol.messages import DeviceState
from kiosk.settings import MqttSettings, Settings, SettingsError, load_settings

_LOGGER = logging.getLogger(__name__)

# Debian's Mosquitto: /etc/mosquitto/mosquitto.conf sets pid_file to this.
DEFAULT_PASSWD = Path("/etc/mosquitto/passwd")
DEFAULT_ACL = Path("/etc/mosquitto/acl")
DEFAULT_PID_FILE = Path("/run/mosquitto/mosquitto.pid")
DEFAULT_SECRET = Path("/etc/kiosk/deployment.secret")
DEFAULT_TLS_PORT = 8883
CHECK_TIMEOUT = 5.0  # seconds to wait for the broker to accept (or refuse) a login
SECRET_BYTES = 32
PASSWORD_BYTES = 24

# Where the bundle's files go on the Pi (relative to the install root, "/" in production).
ETC_KIOSK = Path("etc/kiosk")
ETC_MOSQUITTO = Path("etc/mosquitto")
CERTS = ETC_MOSQUITTO / "certs"
DATA_DIR = Path("var/lib/mosquitto")
LOG_FILE = Path("var/log/mosquitto/mosquitto.log")
EDGE_USERS = ("touch", "bridge")


class EnrolError(RuntimeError):
    """Enrolment or revocation cannot go on; the message says why and what to do."""


# --- where things are ------------------------------------------------------------------------


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


@dataclass(frozen=True, slots=True)
class BundleOptions:
    install_root: Path | None = None  # None: "/" (or the bundle's root/ for a local target)
    edge_port: int | None = None  # None: 1883 (or a free port for a local target)
    run_user: str | None = None  # None: "mosquitto" (or this user for a local target)


@dataclass(frozen=True, slots=True)
class Bundle:
    directory: Path
    credentials: dict[str, Any]
    edge_conf: Path
    warnings: list[str] = field(default_factory=list)


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
            _write_private(path, value + "\n")
    return path


# --- the central password and ACL files --------------------------------------------------------


@contextlib.contextmanager
def _locked(broker: CentralBrokerFiles) -> Iterator[None]:
    """One enrolment or revocation at a time on these files (two admins, one hub)."""
    lock_path = broker.acl_file.parent / ".kiosk-enroll.lock"
    with lock_path.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)


def _replace(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically, keeping its owner and mode: Mosquitto rereads
    the file as its own user after SIGHUP, so a root-owned 0600 copy would lock it out."""
    before = path.stat() if path.exists() else None
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        if before is not None:
            os.chmod(tmp, before.st_mode & 0o777)
            if os.geteuid() == 0:
                os.chown(tmp, before.st_uid, before.st_gid)
        else:
            os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _passwd_lines(path: Path) -> list[str]:
    if not path.exists():
        return []
    return [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def passwd_users(path: Path) -> set[str]:
    return {line.split(":", 1)[0] for line in _passwd_lines(path)}


def _hashed_line(user: str, password: str) -> str:
    """``user:$7$…``, hashed by mosquitto_passwd (PBKDF2-SHA512), never on a command line."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "passwd"
        write_password_file(path, {user: password})
        return path.read_text(encoding="utf-8").strip()


def _set_password(path: Path, user: str, password: str) -> None:
    line = _hashed_line(user, password)
    others = [entry for entry in _passwd_lines(path) if entry.split(":", 1)[0] != user]
    _replace(path, "\n".join([*others, line]) + "\n")


def _remove_password(path: Path, user: str) -> bool:
    lines = _passwd_lines(path)
    kept = [entry for entry in lines if entry.split(":", 1)[0] != user]
    if len(kept) == len(lines):
        return False
    _replace(path, "\n".join(kept) + ("\n" if kept else ""))
    return True


_BEGIN = re.compile(r"^# BEGIN kiosk (\S+)\s*$")
_USER = re.compile(r"^user\s+(\S+)\s*$")


def _acl_section(kiosk: str, centre: str) -> str:
    template = Template((TEMPLATE_DIR / "central-kiosk.acl.template").read_text("utf-8"))
    return template.substitute(kiosk=kiosk, centre=centre)


def acl_kiosks(text: str) -> dict[str, str | None]:
    """Kiosk id → centre (from its board line) of each marked kiosk section."""
    found: dict[str, str | None] = {}
    current: str | None = None
    for line in text.splitlines():
        begin = _BEGIN.match(line)
        if begin:
            current = begin.group(1)
            found[current] = None
        elif current is not None and line.startswith(f"# END kiosk {current}"):
            current = None
        elif current is not None:
            board = re.match(r"^topic read svc/v1/centre/(\S+)/board\s*$", line)
            if board:
                found[current] = board.group(1)
    return found


def acl_other_users(text: str) -> set[str]:
    """``user`` lines outside kiosk sections: the hub, the observer, anything an operator
    added. Never enrolled as kiosks."""
    users: set[str] = set()
    inside = False
    for line in text.splitlines():
        if _BEGIN.match(line):
            inside = True
        elif line.startswith("# END kiosk "):
            inside = False
        elif not inside and (user := _USER.match(line)):
            users.add(user.group(1))
    return users


def _acl_without(text: str, kiosk: str) -> tuple[str, bool]:
    """``text`` without kiosk's marked section. A file written before the markers existed
    has a bare ``user <kiosk>`` block: that goes too, up to the next user or section."""
    out: list[str] = []
    removed = False
    skipping: str | None = None  # "marked" or "bare"
    for line in text.splitlines():
        if skipping == "marked":
            if line.startswith(f"# END kiosk {kiosk}"):
                skipping = None
            continue
        if skipping == "bare":
            if _USER.match(line) or _BEGIN.match(line):
                skipping = None
            else:
                continue
        begin = _BEGIN.match(line)
        if begin and begin.group(1) == kiosk:
            skipping, removed = "marked", True
            continue
        user = _USER.match(line)
        if user and user.group(1) == kiosk:
            skipping, removed = "bare", True
            if out and out[-1].startswith("# kiosk "):
                out.pop()  # its comment line from the old template
            continue
        out.append(line)
    return "\n".join(out).rstrip("\n") + "\n", removed


# --- the broker process ------------------------------------------------------------------------


def reload_broker(broker: CentralBrokerFiles) -> int:
    """SIGHUP to the central Mosquitto (it rereads password and ACL files, and drops
    connected clients whose login no longer passes). Returns the PID signalled."""
    pid = broker.broker_pid()
    if pid is None:
        where = broker.pid_file or "demo.json"
        raise EnrolError(
            f"cannot find the central broker's PID ({where}); reload it yourself "
            "(systemctl reload mosquitto) or give --pid-file"
        )
    cmdline = Path(f"/proc/{pid}/cmdline")
    try:
        argv = cmdline.read_bytes().split(b"\0")
    except OSError as err:
        raise EnrolError(f"the central broker (PID {pid}) is not running") from err
    # A PID file outlives its process, and PIDs are reused: signal only a Mosquitto.
    if not argv or not argv[0].endswith(b"mosquitto"):
        raise EnrolError(f"PID {pid} is not a mosquitto process; not signalling it")
    os.kill(pid, signal.SIGHUP)
    return pid


def check_login(
    endpoint: Endpoint,
    username: str,
    password: str,
    *,
    cert: CertPair | None = None,
    timeout: float = CHECK_TIMEOUT,
) -> str | None:
    """None if the broker accepts this login, else why not (refused, TLS failure, no answer).

    Connects with a clean session under a client id of its own. On a TLS listener with
    ``use_username_as_clientid`` the id becomes the username, so do not check a kiosk whose
    bridge is connected: the check would take over (and end) its session.
    """
    answer: list[str | None] = []
    done = threading.Event()
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=f"{username}-check-{secrets.token_hex(3)}",
        protocol=mqtt.MQTTv5,
    )
    client.username_pw_set(username, password)
    if endpoint.ca_file is not None:
        client.tls_set(
            ca_certs=str(endpoint.ca_file),
            certfile=str(cert.cert) if cert else None,
            keyfile=str(cert.key) if cert else None,
            tls_version=ssl.PROTOCOL_TLS_CLIENT,
        )

    def on_connect(*args: Any) -> None:
        reason: ReasonCode = args[3]
        answer.append(f"refused: {reason}" if reason.is_failure else None)
        done.set()

    def on_disconnect(*args: Any) -> None:
        if not done.is_set():
            answer.append(f"disconnected before CONNACK: {args[3]}")
            done.set()

    client.on_connect = on_connect
    client.on_disconnect = on_disconnect
    try:
        client.connect(endpoint.host, endpoint.port, keepalive=10)
    except (OSError, ssl.SSLError) as err:
        return f"cannot connect: {err}"
    client.loop_start()
    try:
        if not done.wait(timeout):
            return f"no answer within {timeout:g} s"
    finally:
        client.disconnect()
        client.loop_stop()
    return answer[0]


def wait_for_login(
    endpoint: Endpoint,
    username: str,
    password: str,
    *,
    accepted: bool,
    cert: CertPair | None = None,
    timeout: float = CHECK_TIMEOUT,
) -> str | None:
    """Poll until the broker accepts (``accepted``) or refuses the login; the SIGHUP is
    handled by the broker's loop a moment after it is sent. Returns the last answer."""
    deadline = time.monotonic() + timeout
    while True:
        answer = check_login(endpoint, username, password, cert=cert, timeout=timeout)
        if (answer is None) == accepted or time.monotonic() >= deadline:
            return answer
        time.sleep(0.1)


def clear_retained(mqtt_settings: MqttSettings, kiosk: str, timeout: float = 5.0) -> bool:
    """Publish empty retained payloads on the kiosk's state, health and device topics (as
    the hub's user), so a revoked kiosk does not come back from the broker's memory."""
    link = MqttLink(f"hub-revoke-{secrets.token_hex(4)}", mqtt_settings)
    link.start()
    try:
        if not link.wait_connected(timeout):
            return False
        devices: tuple[str, ...] = get_args(DeviceState.model_fields["device"].annotation)
        for topic in (
            topics.kiosk_state(kiosk),
            topics.kiosk_health(kiosk),
            *(topics.kiosk_device(kiosk, device) for device in devices),
        ):
            link.publish(topic, b"", retain=True).wait_for_publish(timeout)
        return True
    finally:
        link.stop()


# --- the bundle --------------------------------------------------------------------------------


def _read_or_create_secret(target: Target) -> bytes:
    path = target.secret_file
    if not path.exists():
        if not target.create_secret:
            raise EnrolError(
                f"no deployment secret at {path}: the hub's copy must exist before a kiosk "
                f"is enrolled (make it once with `kiosk deployment-secret {path}`)"
            )
        create_secret(path)
    secret = path.read_bytes().strip()
    if len(secret) < 16:
        raise EnrolError(f"{path} holds fewer than 16 bytes: not a deployment secret")
    return secret


def create_secret(path: Path) -> None:
    """A new deployment secret (hex text, 0600). Refuses to replace one: every person key
    made with the old secret would stop matching."""
    if path.exists():
        raise EnrolError(f"{path} exists; a deployment secret is made once and never replaced")
    _write_private(path, secrets.token_hex(SECRET_BYTES) + "\n")


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    # A JSON string is a valid TOML basic string for everything we write.
    return json.dumps(str(value), ensure_ascii=False)


def _settings_toml(title: str, sections: dict[str, dict[str, object]]) -> str:
    lines = [f"# {title}", "# Made by `kiosk enroll`: readable by the kiosk's service user only."]
    for name, values in sections.items():
        lines += ["", f"[{name}]"] + [f"{k} = {_toml_value(v)}" for k, v in values.items()]
    return "\n".join(lines) + "\n"


def _render(name: str, **values: object) -> str:
    template = Template((TEMPLATE_DIR / name).read_text(encoding="utf-8"))
    return template.substitute({k: str(v) for k, v in values.items()})


@dataclass(frozen=True, slots=True)
class _Layout:
    """Where each file is written (under ``stage``) and the path the configs name (under
    ``root``, the install root: "/" on a Pi, the bundle's own root/ for a local demo)."""

    stage: Path
    root: Path

    def write_path(self, relative: Path) -> Path:
        return self.stage / "root" / relative

    def named(self, relative: Path) -> Path:
        return self.root / relative


def _bridge_tls(target: Target, layout: _Layout, client: CertPair | None) -> str:
    if target.endpoint.ca_file is None:
        return ""
    lines = _render("edge-bridge-tls.conf.template", ca_file=layout.named(CERTS / "fleet-ca.crt"))
    if client is not None:
        lines += _render(
            "edge-bridge-cert.conf.template", cert_file=client.cert, key_file=client.key
        )
    return lines


def _write_bundle(
    target: Target,
    layout: _Layout,
    kiosk: str,
    centre: str,
    password: str,
    options: BundleOptions,
) -> dict[str, Any]:
    endpoint = target.endpoint
    edge_port = options.edge_port or (free_port() if target.local_bundles else 1883)
    run_user = options.run_user or (getpass.getuser() if target.local_bundles else "mosquitto")
    for folder in (ETC_KIOSK, CERTS, DATA_DIR, LOG_FILE.parent):
        layout.write_path(folder).mkdir(parents=True, exist_ok=True)

    client: CertPair | None = None
    if endpoint.ca_file is not None:
        layout.write_path(CERTS / "fleet-ca.crt").write_bytes(endpoint.ca_file.read_bytes())
        if endpoint.client_ca is not None:
            issue_client(Authority(endpoint.client_ca), kiosk, layout.write_path(CERTS))
            client = CertPair(
                layout.named(CERTS / f"{kiosk}.crt"), layout.named(CERTS / f"{kiosk}.key")
            )

    edge_passwords = {user: secrets.token_urlsafe(PASSWORD_BYTES) for user in EDGE_USERS}
    write_password_file(layout.write_path(ETC_MOSQUITTO / "kiosk.passwd"), edge_passwords)
    _write_private(
        layout.write_path(ETC_MOSQUITTO / "kiosk.acl"),
        _render(
            "edge.acl.template",
            kiosk=kiosk,
            centre=centre,
            touch_user="touch",
            bridge_user="bridge",
        ),
    )
    _write_private(
        layout.write_path(ETC_MOSQUITTO / "mosquitto.conf"),
        _render(
            "edge.conf.template",
            kiosk=kiosk,
            centre=centre,
            port=edge_port,
            password_file=layout.named(ETC_MOSQUITTO / "kiosk.passwd"),
            acl_file=layout.named(ETC_MOSQUITTO / "kiosk.acl"),
            data_dir=layout.named(DATA_DIR),
            log_file=layout.named(LOG_FILE),
            run_user=run_user,
            central_host=endpoint.host,
            central_port=endpoint.port,
            kiosk_password=password,
            bridge_tls=_bridge_tls(target, layout, client),
        ),
    )

    secret_path = layout.named(ETC_KIOSK / "deployment.secret")
    _write_private(
        layout.write_path(ETC_KIOSK / "deployment.secret"),
        _read_or_create_secret(target).decode() + "\n",
    )
    kiosk_section: dict[str, object] = {
        "id": kiosk,
        "centre": centre,
        "deployment_secret_file": str(secret_path),
    }
    for user in EDGE_USERS:
        mqtt_section = {
            "host": "127.0.0.1",
            "port": edge_port,
            "username": user,
            "password": edge_passwords[user],
        }
        _write_private(
            layout.write_path(ETC_KIOSK / f"{user}.toml"),
            _settings_toml(
                f"Kiosk {kiosk} (centre {centre}): the {user} process's settings.",
                {"kiosk": kiosk_section, "mqtt": mqtt_section},
            ),
        )

    credentials: dict[str, Any] = {
        "kiosk": kiosk,
        "centre": centre,
        "username": kiosk,
        "password": password,
        "host": endpoint.host,
        "port": endpoint.port,
        "tls": endpoint.tls,
    }
    if endpoint.tls:
        credentials["ca"] = str(layout.named(CERTS / "fleet-ca.crt"))
    if client is not None:
        credentials["cert"], credentials["key"] = str(client.cert), str(client.key)
    credentials["edge_port"] = edge_port
    _write_private(layout.stage / "credentials.json", json.dumps(credentials, indent=2) + "\n")
    _write_private(layout.stage / "INSTALL.txt", _install_text(kiosk, centre, layout))
    return credentials


def _install_text(kiosk: str, centre: str, layout: _Layout) -> str:
    return (
        f"Kiosk {kiosk}, centre {centre}: enrolment bundle.\n\n"
        "It holds the kiosk's broker password and the deployment secret: move it to the Pi\n"
        "over a trusted channel and delete this copy once installed.\n\n"
        "On the Pi, as root:\n"
        "  cp -a root/. /\n"
        "  chown -R mosquitto:mosquitto /etc/mosquitto/kiosk.* /etc/mosquitto/certs "
        "/var/lib/mosquitto\n"
        "  chown root:kiosk /etc/kiosk/*.toml /etc/kiosk/deployment.secret\n"
        "  chmod 0640 /etc/kiosk/*.toml /etc/kiosk/deployment.secret\n"
        "  systemctl restart mosquitto kiosk-touch kiosk-bridge\n\n"
        f"Paths in the configs start at {layout.root}.\n"
    )


# --- enrol and revoke --------------------------------------------------------------------------


def _cli_actor() -> str:
    return f"cli:{getpass.getuser()}"


def _check_ids(kiosk: str, centre: str | None) -> None:
    try:
        topics.check_id(kiosk, "kiosk")
        if centre is not None:
            topics.check_id(centre, "centre")
    except topics.TopicError as err:
        raise EnrolError(str(err)) from err


def _check_enrollable(broker: CentralBrokerFiles, acl_text: str, kiosk: str, rotate: bool) -> None:
    sections = acl_kiosks(acl_text)
    if kiosk in acl_other_users(acl_text) or (
        kiosk in passwd_users(broker.passwd_file) and kiosk not in sections
    ):
        raise EnrolError(f"{kiosk!r} is a broker user that is not a kiosk (hub, observer…)")
    if kiosk in sections and not rotate:
        raise EnrolError(
            f"kiosk {kiosk!r} is already enrolled (centre {sections[kiosk]}); "
            "--rotate gives it a new password, `kiosk revoke` removes it"
        )
    if rotate and kiosk not in sections:
        raise EnrolError(f"kiosk {kiosk!r} is not enrolled: nothing to rotate")


def _verify(target: Target, kiosk: str, password: str, credentials: dict[str, Any]) -> str | None:
    """The test login after enrolment; None when the broker accepts it."""
    cert: CertPair | None = None
    if "cert" in credentials:
        if not target.local_bundles:
            return None  # the client key is in the bundle, at its path on the Pi
        cert = CertPair(Path(credentials["cert"]), Path(credentials["key"]))
    return wait_for_login(target.endpoint, kiosk, password, accepted=True, cert=cert)


def enroll(
    target: Target,
    kiosk: str,
    centre: str,
    *,
    out: Path | None = None,
    rotate: bool = False,
    options: BundleOptions = BundleOptions(),
    verify: bool = True,
) -> Bundle:
    """Enrol ``kiosk`` for ``centre``; returns the bundle. ``rotate``: the kiosk exists and
    gets a new password (its old bundle stops working at once)."""
    _check_ids(kiosk, centre)
    broker = target.broker
    directory = (out or target.bundles_dir / kiosk).resolve()
    if directory.exists() and any(directory.iterdir()):
        raise EnrolError(f"{directory} exists and is not empty; choose another --out")
    warnings: list[str] = []
    with _locked(broker):
        acl_text = broker.acl_file.read_text(encoding="utf-8") if broker.acl_file.exists() else ""
        _check_enrollable(broker, acl_text, kiosk, rotate)
        password = secrets.token_urlsafe(PASSWORD_BYTES)
        directory.parent.mkdir(parents=True, exist_ok=True)
        stage = Path(tempfile.mkdtemp(dir=directory.parent, prefix=f".{kiosk}-"))
        os.chmod(stage, 0o700)
        try:
            root = options.install_root or (
                directory / "root" if target.local_bundles else Path("/")
            )
            credentials = _write_bundle(
                target, _Layout(stage, root), kiosk, centre, password, options
            )
            # The broker learns the kiosk only once its bundle exists.
            _set_password(broker.passwd_file, kiosk, password)
            text, _ = _acl_without(acl_text, kiosk)
            _replace(broker.acl_file, text.rstrip("\n") + "\n\n" + _acl_section(kiosk, centre))
            if directory.exists():
                directory.rmdir()
            os.replace(stage, directory)
        except BaseException:
            shutil.rmtree(stage, ignore_errors=True)
            raise
        if broker.reload:
            reload_broker(broker)
        else:
            warnings.append("the broker was not reloaded: reload it before the kiosk connects")
    if verify and broker.reload:
        answer = _verify(target, kiosk, password, credentials)
        if answer is not None:
            warnings.append(f"the broker does not accept {kiosk} yet: {answer}")
    _record(target, "kiosk.enrol", kiosk, centre, {"rotate": rotate}, warnings)
    edge_conf = directory / "root" / ETC_MOSQUITTO / "mosquitto.conf"
    return Bundle(directory, credentials, edge_conf, warnings)


@dataclass(frozen=True, slots=True)
class Revocation:
    kiosk: str
    centre: str | None
    had_password: bool
    had_acl: bool
    reloaded_pid: int | None
    retained_cleared: bool
    warnings: list[str]


def revoke(target: Target, kiosk: str) -> Revocation:
    """Take ``kiosk``'s credentials off the central broker and reload it at once."""
    _check_ids(kiosk, None)
    broker = target.broker
    warnings: list[str] = []
    with _locked(broker):
        acl_text = broker.acl_file.read_text(encoding="utf-8") if broker.acl_file.exists() else ""
        if kiosk in acl_other_users(acl_text):
            raise EnrolError(f"{kiosk!r} is a broker user that is not a kiosk; not revoking it")
        centre = acl_kiosks(acl_text).get(kiosk)
        had_password = _remove_password(broker.passwd_file, kiosk)
        text, had_acl = _acl_without(acl_text, kiosk)
        if had_acl:
            _replace(broker.acl_file, text)
        if not had_password and not had_acl:
            raise EnrolError(f"kiosk {kiosk!r} is not enrolled on this broker")
        pid = reload_broker(broker) if broker.reload else None
        if pid is None:
            warnings.append("the broker was not reloaded: the kiosk can connect until it is")
    cleared = False
    if target.hub is not None:
        if target.hub.mqtt.tls_ca_file is not None:
            # On the TLS listener the client id is the username: a second "hub" connection
            # would take over the hub worker's session.
            warnings.append("retained topics not cleared: the hub's MQTT link is TLS")
        else:
            cleared = clear_retained(target.hub.mqtt, kiosk)
            if not cleared:
                warnings.append("could not reach the broker as the hub to clear retained topics")
    _record(target, "kiosk.revoke", kiosk, centre, {"reloaded": pid is not None}, warnings)
    return Revocation(kiosk, centre, had_password, had_acl, pid, cleared, warnings)


def _record(
    target: Target,
    action: str,
    kiosk: str,
    centre: str | None,
    detail: dict[str, Any],
    warnings: list[str],
) -> None:
    if target.hub is None:
        return
    from kiosk.hub.enrolment import record

    try:
        record(target.hub.hub.database_url, action, kiosk, centre, _cli_actor(), detail)
    except Exception as err:  # the broker is already changed: say so, do not undo it
        _LOGGER.exception("could not record %s of %s in the hub's database", action, kiosk)
        warnings.append(f"not recorded in the hub's database: {err}")


# --- command line ------------------------------------------------------------------------------


def _enroll_target(args: argparse.Namespace) -> Target:
    if args.state_dir is not None:
        target = _demo_target(args)
        if args.ca_file is not None:  # a demo with a TLS listener added by hand
            endpoint = replace(
                target.endpoint, ca_file=args.ca_file, port=args.port or target.endpoint.port
            )
            target = replace(target, endpoint=endpoint)
    else:
        if args.host is None:
            raise EnrolError("--host is required: the broker's name or address as kiosks dial it")
        if args.ca_file is None and not args.no_tls:
            raise EnrolError("--ca-file is required (kiosks check the broker with it), or --no-tls")
        target = _production_target(
            args, Endpoint(args.host, args.port or DEFAULT_TLS_PORT, args.ca_file)
        )
    endpoint = replace(target.endpoint, client_ca=args.client_cert_ca)
    target = replace(target, endpoint=endpoint)
    if args.secret_file is not None:
        target = replace(target, secret_file=args.secret_file, create_secret=False)
    return target


def _revoke_target(args: argparse.Namespace) -> Target:
    if args.state_dir is not None:
        return _demo_target(args)
    # Revoking touches only the broker's files (and the hub's records): no endpoint needed.
    return _production_target(args, Endpoint("", 0))


def _demo_target(args: argparse.Namespace) -> Target:
    target = target_from_state_dir(args.state_dir)
    broker = target.broker
    if args.pid_file is not None:
        broker = replace(broker, pid=None, pid_file=args.pid_file)
    for name in ("passwd_file", "acl_file"):
        if getattr(args, name) is not None:
            broker = replace(broker, **{name: getattr(args, name)})
    return replace(target, broker=replace(broker, reload=not args.no_reload))


def _production_target(args: argparse.Namespace, endpoint: Endpoint) -> Target:
    return Target(
        broker=CentralBrokerFiles(
            args.passwd_file or DEFAULT_PASSWD,
            args.acl_file or DEFAULT_ACL,
            pid_file=args.pid_file or DEFAULT_PID_FILE,
            reload=not args.no_reload,
        ),
        endpoint=endpoint,
        secret_file=DEFAULT_SECRET,
        bundles_dir=Path("kiosk-bundles"),
        hub=load_settings(args.config) if args.config is not None else None,
    )


def _cmd_enroll(args: argparse.Namespace) -> int:
    bundle = enroll(
        _enroll_target(args),
        args.kiosk,
        args.centre,
        out=args.out,
        rotate=args.rotate,
        options=BundleOptions(args.install_root, args.edge_port, args.run_user),
        verify=not args.no_verify,
    )
    creds = bundle.credentials
    scheme = "mqtts" if creds["tls"] else "mqtt"
    print(f"kiosk {creds['kiosk']} enrolled for centre {creds['centre']}")
    print(f"  broker:  {scheme}://{creds['host']}:{creds['port']} as {creds['username']}")
    print(f"  bundle:  {bundle.directory}  (credentials.json, INSTALL.txt, root/)")
    for warning in bundle.warnings:
        print(f"  warning: {warning}", file=sys.stderr)
    return 0


def _cmd_revoke(args: argparse.Namespace) -> int:
    result = revoke(_revoke_target(args), args.kiosk)
    print(f"kiosk {result.kiosk} revoked", end="")
    print(f" (broker PID {result.reloaded_pid} reloaded)" if result.reloaded_pid else "")
    for warning in result.warnings:
        print(f"  warning: {warning}", file=sys.stderr)
    return 0


def _cmd_secret(args: argparse.Namespace) -> int:
    create_secret(args.path)
    print(f"deployment secret written to {args.path} (0600); back it up, never replace it")
    return 0


Command = Callable[[argparse.Namespace], int]


def _guard(name: str, command: Command) -> Command:
    def run(args: argparse.Namespace) -> int:
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
        try:
            return command(args)
        except (EnrolError, CaError, BrokerSetupError, SettingsError) as err:
            print(f"kiosk {name}: {err}", file=sys.stderr)
            return 1
        except (OSError, ValueError, tomllib.TOMLDecodeError) as err:
            print(f"kiosk {name}: {err}", file=sys.stderr)
            return 1

    return run


def _broker_args(cmd: argparse.ArgumentParser) -> None:
    where = cmd.add_mutually_exclusive_group()
    where.add_argument("--config", type=Path, help="the hub's settings (production)")
    where.add_argument("--state-dir", type=Path, help="act on the demo running in this folder")
    cmd.add_argument("--passwd-file", type=Path, help=f"default {DEFAULT_PASSWD}")
    cmd.add_argument("--acl-file", type=Path, help=f"default {DEFAULT_ACL}")
    cmd.add_argument("--pid-file", type=Path, help=f"default {DEFAULT_PID_FILE}")
    cmd.add_argument("--no-reload", action="store_true", help="do not SIGHUP the broker")


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``kiosk enroll``, ``kiosk revoke`` and ``kiosk deployment-secret``."""
    enroll_cmd = subparsers.add_parser(
        "enroll", help="give a kiosk broker credentials and make its install bundle"
    )
    enroll_cmd.add_argument("kiosk", help="kiosk id (a-z 0-9 _ -, at most 32)")
    enroll_cmd.add_argument("--centre", required=True, help="the centre it serves")
    _broker_args(enroll_cmd)
    enroll_cmd.add_argument("--host", help="broker name or IP as kiosks dial it (production)")
    enroll_cmd.add_argument("--port", type=int, help=f"default {DEFAULT_TLS_PORT} (demo: its own)")
    enroll_cmd.add_argument("--ca-file", type=Path, help="CA certificate: the bridge uses TLS")
    enroll_cmd.add_argument("--no-tls", action="store_true", help="production without TLS")
    enroll_cmd.add_argument(
        "--client-cert-ca", type=Path, help="a `kiosk ca` folder: also issue a client certificate"
    )
    enroll_cmd.add_argument("--secret-file", type=Path, help=f"default {DEFAULT_SECRET}")
    enroll_cmd.add_argument("--out", type=Path, help="bundle folder (default: bundles/KIOSK)")
    enroll_cmd.add_argument("--install-root", type=Path, help="where the Pi's / is (default /)")
    enroll_cmd.add_argument("--edge-port", type=int, help="the edge broker's port (default 1883)")
    enroll_cmd.add_argument("--run-user", help="the edge broker's user (default mosquitto)")
    enroll_cmd.add_argument("--rotate", action="store_true", help="new password for a kiosk")
    enroll_cmd.add_argument("--no-verify", action="store_true", help="skip the test login")
    enroll_cmd.set_defaults(func=_guard("enroll", _cmd_enroll))

    revoke_cmd = subparsers.add_parser(
        "revoke", help="take a kiosk's broker credentials away, at once"
    )
    revoke_cmd.add_argument("kiosk")
    _broker_args(revoke_cmd)
    revoke_cmd.set_defaults(func=_guard("revoke", _cmd_revoke))

    secret_cmd = subparsers.add_parser(
        "deployment-secret", help="make the deployment secret once (the hub's copy)"
    )
    secret_cmd.add_argument("path", type=Path)
    secret_cmd.set_defaults(func=_guard("deployment-secret", _cmd_secret))
