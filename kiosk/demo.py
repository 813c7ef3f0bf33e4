"""``kiosk demo``: the whole system on one machine, with simulated devices.

It starts, as child processes it owns: a central Mosquitto, the hub, and per kiosk an edge
Mosquitto (bridged to the central one), a receipt-printer simulator on a pty, the firmware
bridge and the touch app. Like systemd in production, it restarts a child that dies. It
writes ``demo.json`` (URLs, ports, PIDs, the admin's and the observer's credentials) and
prints ``READY <path>`` once every part answers.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kiosk.brokers import CentralBroker, EdgeBroker, mosquitto_binary
from kiosk.netutil import wait_for_port

_LOGGER = logging.getLogger("kiosk.demo")

CENTRE = "demo"
CENTRE_NAME = "演示社区党群服务中心"
SERVICES = [
    {"code": "social", "name": "社保医保", "prefix": "A"},
    {"code": "civil", "name": "民政救助", "prefix": "B"},
    {"code": "party", "name": "党员服务", "prefix": "C"},
    {"code": "general", "name": "综合咨询", "prefix": "D"},
]
RESTART_DELAY = 1.0  # seconds, as Restart=on-failure with RestartSec=1 in systemd/
START_TIMEOUT = 30.0
SIMULATOR_NICENESS = 10


class DemoError(RuntimeError):
    """The demo could not start; the message says which part and where its log is."""


@dataclass(frozen=True)
class Ports:
    base: int

    @property
    def console(self) -> int:
        return self.base

    @property
    def central(self) -> int:
        return self.base + 1

    def touch(self, i: int) -> int:
        return self.base + 10 + i

    def edge(self, i: int) -> int:
        return self.base + 20 + i


def kiosk_ids(count: int) -> list[str]:
    return [f"k{i}" for i in range(1, count + 1)]


def role_config(state_dir: Path, role: str) -> Path:
    """The settings file the demo wrote for ``role`` (hub, touch-k1, bridge-k1)."""
    path = state_dir / "config" / f"{role}.json"
    if not path.exists():
        raise DemoError(f"no demo settings for {role!r} in {state_dir} (run `kiosk demo` first)")
    return path


def _secrets(state_dir: Path, kiosks: list[str]) -> dict[str, str]:
    """Passwords, kept across runs of the same state dir (the hub's DB keeps the admin)."""
    path = state_dir / "secrets.json"
    known: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    names = ["admin", "hub", "observer", "console_key", "deployment"]
    for kiosk in kiosks:
        names += [kiosk, f"{kiosk}-touch", f"{kiosk}-bridge"]
    for name in names:
        known.setdefault(name, secrets.token_urlsafe(16))
    path.write_text(json.dumps(known, indent=2))
    path.chmod(0o600)
    return known


def _write_secret(path: Path, secret: str) -> Path:
    path.write_text(secret)
    path.chmod(0o600)
    return path


def _write_json(path: Path, data: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")
    path.chmod(0o600)
    return path


@dataclass
class Child:
    """A process the demo owns: how to start it and where its output goes."""

    name: str
    argv: list[str]
    log: Path
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    died_at: float | None = None
    niceness: int = 0

    def start(self) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(  # noqa: S603 - our own programs
                self.argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        if self.niceness:
            # Set at once, before the child's interpreter starts any thread (they inherit it).
            os.setpriority(os.PRIO_PROCESS, self.process.pid, self.niceness)
        self.died_at = None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def stop(self, timeout: float = 5.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout)


@dataclass
class Demo:
    state_dir: Path
    ports: Ports
    kiosks: list[str]
    secrets: dict[str, str]
    external_printers: dict[str, str] = field(default_factory=dict)  # kiosk → pyserial URL
    external_idreaders: dict[str, str] = field(default_factory=dict)
    # kiosk → a loopback port that relays to the central broker (the fault tests cut it).
    uplink_ports: dict[str, int] = field(default_factory=dict)
    children: list[Child] = field(default_factory=list)

    def _python(self, *args: str) -> list[str]:
        return [sys.executable, "-m", *args]

    def _add(self, name: str, argv: list[str], niceness: int = 0) -> Child:
        child = Child(name, argv, self.state_dir / "logs" / f"{name}.log", niceness=niceness)
        self.children.append(child)
        return child

    # --- configuration -----------------------------------------------------------------

    def configure(self) -> None:
        central_users = {
            "hub": self.secrets["hub"],
            "observer": self.secrets["observer"],
            **{k: self.secrets[k] for k in self.kiosks},
        }
        conf = CentralBroker(
            port=self.ports.central, users=central_users, kiosks=dict.fromkeys(self.kiosks, CENTRE)
        ).write(self.state_dir / "central")
        self._add("central-broker", [mosquitto_binary(), "-c", str(conf)])
        self._add("hub", self._python("kiosk.cli", "hub", "--config", str(self._hub_config())))
        for i, kiosk in enumerate(self.kiosks, start=1):
            self._configure_kiosk(i, kiosk)

    def _hub_config(self) -> Path:
        hub_dir = self.state_dir / "hub"
        hub_dir.mkdir(parents=True, exist_ok=True)
        key_file = _write_secret(hub_dir / "console.key", self.secrets["console_key"])
        deployment = _write_secret(hub_dir / "deployment.secret", self.secrets["deployment"])
        return _write_json(
            self.state_dir / "config" / "hub.json",
            {
                "state_dir": str(self.state_dir),
                "mqtt": self._mqtt(self.ports.central, "hub", self.secrets["hub"]),
                "hub": {
                    "database_url": f"sqlite:///{(hub_dir / 'hub.sqlite3').resolve()}",
                    "port": self.ports.console,
                    "secret_key_file": str(key_file),
                    "deployment_secret_file": str(deployment),
                    "receipts_dir": str(self.state_dir / "receipts"),
                    "centres": [{"code": CENTRE, "name": CENTRE_NAME, "services": SERVICES}],
                },
            },
        )

    def _configure_kiosk(self, i: int, kiosk: str) -> None:
        kiosk_dir = self.state_dir / "kiosks" / kiosk
        conf = EdgeBroker(
            kiosk=kiosk,
            centre=CENTRE,
            port=self.ports.edge(i),
            central_host="127.0.0.1",
            central_port=self.uplink_ports.get(kiosk, self.ports.central),
            kiosk_password=self.secrets[kiosk],
            users={
                "touch": self.secrets[f"{kiosk}-touch"],
                "bridge": self.secrets[f"{kiosk}-bridge"],
            },
        ).write(kiosk_dir / "edge")
        self._add(f"{kiosk}-edge-broker", [mosquitto_binary(), "-c", str(conf)])
        printer = self._device(kiosk, "printer", self.external_printers)
        idreader = self._device(kiosk, "idreader", self.external_idreaders)
        # Each kiosk's own copy of the deployment secret, as `kiosk enroll` provisions it.
        secret = _write_secret(kiosk_dir / "deployment.secret", self.secrets["deployment"])
        identity = {"id": kiosk, "centre": CENTRE, "deployment_secret_file": str(secret)}
        bridge = _write_json(
            self.state_dir / "config" / f"bridge-{kiosk}.json",
            {
                "state_dir": str(kiosk_dir),
                "kiosk": identity,
                "mqtt": self._mqtt(self.ports.edge(i), "bridge", self.secrets[f"{kiosk}-bridge"]),
                "bridge": {
                    "printer": {"port": printer, "spool_dir": str(kiosk_dir / "spool")},
                    "idreader": {"port": idreader},
                    # No GPIO header on a PC: gpiozero's mock pins stand in.
                    "gpio": {"pin_factory": "mock"},
                },
            },
        )
        touch = _write_json(
            self.state_dir / "config" / f"touch-{kiosk}.json",
            {
                "state_dir": str(kiosk_dir),
                "kiosk": identity,
                "mqtt": self._mqtt(self.ports.edge(i), "touch", self.secrets[f"{kiosk}-touch"]),
                "touch": {"port": self.ports.touch(i)},
            },
        )
        self._add(f"{kiosk}-bridge", self._python("kiosk.cli", "bridge", "--config", str(bridge)))
        self._add(f"{kiosk}-touch", self._python("kiosk.cli", "touch", "--config", str(touch)))

    def _device(self, kiosk: str, device: str, external: dict[str, str]) -> str:
        """The serial port of ``device``: an external pyserial URL, or a simulator's pty.

        A simulator stands in for a device with a CPU of its own: it runs at a lower
        priority, so rendering receipts to PNG does not take the kiosk software's share.
        """
        if kiosk in external:
            return external[kiosk]
        link = self.state_dir / "kiosks" / kiosk / f"{device}.tty"
        argv = ["--link", str(link)]
        if device == "printer":
            argv += ["--receipts", str(self.state_dir / "receipts" / kiosk)]
        self._add(
            f"{kiosk}-{device}-sim",
            self._python(f"firmware_bridge.sim.{device}", *argv),
            niceness=SIMULATOR_NICENESS,
        )
        return str(link)

    @staticmethod
    def _mqtt(port: int, user: str, password: str) -> dict[str, Any]:
        return {"host": "127.0.0.1", "port": port, "username": user, "password": password}

    # --- running -----------------------------------------------------------------------

    def start_all(self) -> None:
        for child in self.children:
            child.start()
            self._wait_started(child)

    def _wait_started(self, child: Child) -> None:
        """Wait for the parts the next ones depend on (brokers, the simulators' ptys)."""
        port = self._port_of(child.name)
        ok = True
        if port is not None and "broker" in child.name:
            ok = wait_for_port("127.0.0.1", port, START_TIMEOUT)
        elif child.name.endswith("-sim"):
            kiosk, device = child.name.split("-")[:2]
            ok = _wait((self.state_dir / "kiosks" / kiosk / f"{device}.tty").exists)
        if not ok:
            raise DemoError(f"{child.name} did not start; see {child.log}")

    def _port_of(self, name: str) -> int | None:
        if name == "central-broker":
            return self.ports.central
        if name == "hub":
            return self.ports.console
        for i, kiosk in enumerate(self.kiosks, start=1):
            if name == f"{kiosk}-edge-broker":
                return self.ports.edge(i)
            if name == f"{kiosk}-touch":
                return self.ports.touch(i)
        return None

    def wait_ready(self) -> None:
        """Every web app answers and each kiosk reaches the hub through its bridge."""
        if not wait_for_port("127.0.0.1", self.ports.console, START_TIMEOUT):
            raise DemoError(f"the hub's console did not start; see {self.state_dir}/logs/hub.log")
        for i, kiosk in enumerate(self.kiosks, start=1):
            url = f"http://127.0.0.1:{self.ports.touch(i)}/api/services"
            if not _wait(functools.partial(_http_ok, url)):
                raise DemoError(
                    f"kiosk {kiosk} cannot reach the hub; see {self.state_dir}/logs/{kiosk}-*.log"
                )

    def describe(self) -> dict[str, Any]:
        touch_urls = {
            k: f"http://127.0.0.1:{self.ports.touch(i)}/"
            for i, k in enumerate(self.kiosks, start=1)
        }
        console = f"http://127.0.0.1:{self.ports.console}/"
        return {
            "centre": CENTRE,
            "kiosks": self.kiosks,
            "urls": {
                "console": console,
                "display": f"{console}display/{CENTRE}",
                "fleet": f"{console}fleet",
                "touch": touch_urls,
            },
            "ports": {
                "console": self.ports.console,
                "central_broker": self.ports.central,
                "touch": {k: self.ports.touch(i) for i, k in enumerate(self.kiosks, start=1)},
                "edge_broker": {k: self.ports.edge(i) for i, k in enumerate(self.kiosks, start=1)},
            },
            "pids": {child.name: child.pid for child in self.children},
            "restarts": {child.name: child.restarts for child in self.children if child.restarts},
            "admin": {"username": "admin", "password": self.secrets["admin"]},
            "observer": {"username": "observer", "password": self.secrets["observer"]},
            "receipts": str((self.state_dir / "receipts").resolve()),
            "logs": str((self.state_dir / "logs").resolve()),
        }

    def write_description(self) -> Path:
        return _write_json(self.state_dir / "demo.json", self.describe())

    def supervise_once(self) -> bool:
        """Restart children that died (after RESTART_DELAY); True if anything changed."""
        changed = False
        now = time.monotonic()
        for child in self.children:
            if child.process is None or child.process.poll() is None:
                continue
            if child.died_at is None:
                child.died_at = now
                _LOGGER.warning(
                    "%s (pid %s) exited with %s; restarting in %.0f s",
                    child.name,
                    child.pid,
                    child.process.returncode,
                    RESTART_DELAY,
                )
            elif now - child.died_at >= RESTART_DELAY:
                child.restarts += 1
                child.start()
                _LOGGER.warning("%s restarted as pid %s", child.name, child.pid)
                changed = True
        return changed

    def stop_all(self) -> None:
        for child in reversed(self.children):
            child.stop()


def _wait(predicate: Callable[[], bool], timeout: float = START_TIMEOUT) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback
            return int(response.status) == 200
    except OSError:
        return False


def _create_admin(demo: Demo) -> None:
    from kiosk.hub.users import ensure_user
    from kiosk.settings import load_settings

    settings = load_settings(role_config(demo.state_dir, "hub"))
    ensure_user(settings.hub.database_url, "admin", demo.secrets["admin"], role="admin")


def run_demo(
    state_dir: Path,
    *,
    port_base: int = 8000,
    kiosks: int = 1,
    printers: dict[str, str] | None = None,
    idreaders: dict[str, str] | None = None,
    uplinks: dict[str, int] | None = None,
) -> int:
    """Run until SIGINT or SIGTERM; returns the exit code.

    ``uplinks`` (kiosk → port) points that kiosk's edge bridge at a loopback relay to the
    central broker instead of the broker itself, so a test can cut the uplink.
    """
    logging.basicConfig(level=logging.INFO, format="%(asctime)s demo: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)  # the hub's own log has them
    if not 1 <= kiosks <= 9:
        print("kiosk demo: --kiosks must be between 1 and 9", file=sys.stderr)
        return 2
    state_dir = state_dir.resolve()
    state_dir.mkdir(parents=True, exist_ok=True)
    ids = kiosk_ids(kiosks)
    demo = Demo(
        state_dir,
        Ports(port_base),
        ids,
        _secrets(state_dir, ids),
        external_printers=printers or {},
        external_idreaders=idreaders or {},
        uplink_ports=uplinks or {},
    )
    stopping: list[int] = []

    def on_signal(signum: int, _frame: object) -> None:
        stopping.append(signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        demo.configure()
        _create_admin(demo)
        demo.start_all()
        demo.wait_ready()
        path = demo.write_description()
        _print_banner(demo, path)
        while not stopping:
            if demo.supervise_once():
                demo.write_description()
            time.sleep(0.2)
        return 0
    except DemoError as err:
        print(f"kiosk demo: {err}", file=sys.stderr)
        return 1
    finally:
        demo.stop_all()


def _print_banner(demo: Demo, path: Path) -> None:
    info = demo.describe()
    print(f"Staff console:  {info['urls']['console']}  (admin / {info['admin']['password']})")
    print(f"Call display:   {info['urls']['display']}")
    for kiosk, url in info["urls"]["touch"].items():
        print(f"Kiosk {kiosk}:       {url}")
    print(f"Receipts:       {info['receipts']}/<kiosk>/<n>.png")
    print(f"READY {path}", flush=True)


def launch_demo(
    state_dir: Path,
    *,
    port_base: int,
    kiosks: int = 1,
    timeout: float = 90.0,
    uplinks: dict[str, int] | None = None,
    env: dict[str, str] | None = None,
) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    """Start ``kiosk demo`` as a child process and wait for READY (tests and benchmarks).

    ``uplinks``: kiosk → port of a relay to the central broker (see :func:`run_demo`);
    ``env``: extra environment (``KIOSK__SECTION__KEY`` settings) for every part.
    Returns the process and the parsed demo.json. Stop it with ``terminate()``.
    """
    import queue

    relays = [f"--uplink={kiosk}={port}" for kiosk, port in sorted((uplinks or {}).items())]

    process = subprocess.Popen(  # noqa: S603 - our own program
        [
            sys.executable,
            "-m",
            "kiosk.cli",
            "demo",
            "--state-dir",
            str(state_dir),
            "--port-base",
            str(port_base),
            "--kiosks",
            str(kiosks),
            *relays,
        ],
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        # Read to the end, so the demo never blocks on a full pipe while it logs restarts.
        for line in process.stdout or ():
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    output: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        try:
            line = lines.get(timeout=0.2)
        except queue.Empty:
            continue
        output.append(line)
        if line.startswith("READY "):
            info = json.loads(Path(line.split(" ", 1)[1].strip()).read_text(encoding="utf-8"))
            return process, info
    process.terminate()
    process.wait(10)
    raise DemoError("kiosk demo did not become ready:\n" + "".join(output[-40:]))
