"""The bundle a kiosk installs: its folder of configs (edge broker with the bridge, its
ACL and password file, the touch app's and firmware bridge's settings), certificates,
credentials.json, INSTALL.txt, and the deployment secret it carries."""

from __future__ import annotations

import getpass
import json
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from string import Template
from typing import Any

from kiosk.brokers import TEMPLATE_DIR, write_password_file
from kiosk.ca import Authority, CertPair, issue_client
from kiosk.enroll.files import write_private
from kiosk.enroll.targets import EnrolError, Target
from kiosk.netutil import free_port

SECRET_BYTES = 32
PASSWORD_BYTES = 24

# Where the bundle's files go on the Pi (relative to the install root, "/" in production).
ETC_KIOSK = Path("etc/kiosk")
ETC_MOSQUITTO = Path("etc/mosquitto")
CERTS = ETC_MOSQUITTO / "certs"
DATA_DIR = Path("var/lib/mosquitto")
LOG_FILE = Path("var/log/mosquitto/mosquitto.log")
EDGE_USERS = ("touch", "bridge")


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
    write_private(path, secrets.token_hex(SECRET_BYTES) + "\n")


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
class Layout:
    """Where each file is written (under ``stage``) and the path the configs name (under
    ``root``, the install root: "/" on a Pi, the bundle's own root/ for a local demo)."""

    stage: Path
    root: Path

    def write_path(self, relative: Path) -> Path:
        return self.stage / "root" / relative

    def named(self, relative: Path) -> Path:
        return self.root / relative


def _bridge_tls(target: Target, layout: Layout, client: CertPair | None) -> str:
    if target.endpoint.ca_file is None:
        return ""
    lines = _render("edge-bridge-tls.conf.template", ca_file=layout.named(CERTS / "fleet-ca.crt"))
    if client is not None:
        lines += _render(
            "edge-bridge-cert.conf.template", cert_file=client.cert, key_file=client.key
        )
    return lines


def write_bundle(
    target: Target,
    layout: Layout,
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
    write_private(
        layout.write_path(ETC_MOSQUITTO / "kiosk.acl"),
        _render(
            "edge.acl.template",
            kiosk=kiosk,
            centre=centre,
            touch_user="touch",
            bridge_user="bridge",
        ),
    )
    write_private(
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
    write_private(
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
        write_private(
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
    write_private(layout.stage / "credentials.json", json.dumps(credentials, indent=2) + "\n")
    write_private(layout.stage / "INSTALL.txt", _install_text(kiosk, centre, layout))
    return credentials


def _install_text(kiosk: str, centre: str, layout: Layout) -> str:
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
