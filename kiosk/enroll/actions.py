"""Enrol and revoke: the steps in order (check, bundle, password and ACL, reload, test
login), each recorded in the hub's database when the hub's settings are known."""

from __future__ import annotations

import getpass
import logging
import os
import secrets
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kiosk.ca import CertPair
from kiosk.enroll.broker import clear_retained, reload_broker, wait_for_login
from kiosk.enroll.broker_files import (
    acl_kiosks,
    acl_other_users,
    acl_section,
    acl_without,
    locked,
    passwd_users,
    remove_password,
    set_password,
)
from kiosk.enroll.bundle import (
    ETC_MOSQUITTO,
    PASSWORD_BYTES,
    Bundle,
    BundleOptions,
    Layout,
    write_bundle,
)
from kiosk.enroll.files import replace
from kiosk.enroll.targets import CentralBrokerFiles, EnrolError, Target
from kiosk.protocol import topics

_LOGGER = logging.getLogger(__name__)


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
    options: BundleOptions = BundleOptions(),  # noqa: B008 - a frozen dataclass
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
    with locked(broker):
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
            credentials = write_bundle(
                target, Layout(stage, root), kiosk, centre, password, options
            )
            # The broker learns the kiosk only once its bundle exists.
            set_password(broker.passwd_file, kiosk, password)
            text, _ = acl_without(acl_text, kiosk)
            replace(broker.acl_file, text.rstrip("\n") + "\n\n" + acl_section(kiosk, centre))
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
    with locked(broker):
        acl_text = broker.acl_file.read_text(encoding="utf-8") if broker.acl_file.exists() else ""
        if kiosk in acl_other_users(acl_text):
            raise EnrolError(f"{kiosk!r} is a broker user that is not a kiosk; not revoking it")
        centre = acl_kiosks(acl_text).get(kiosk)
        had_password = remove_password(broker.passwd_file, kiosk)
        text, had_acl = acl_without(acl_text, kiosk)
        if had_acl:
            replace(broker.acl_file, text)
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
