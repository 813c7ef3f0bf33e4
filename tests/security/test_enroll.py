"""`kiosk enroll` and `kiosk revoke` against a running central Mosquitto."""

from __future__ import annotations

import argparse
import json
import stat
import subprocess
import threading
import tomllib
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import select

from kiosk import enroll as enroll_module
from kiosk.brokers import start_mosquitto
from kiosk.ca import Authority
from kiosk.enroll import (
    EnrolError,
    Target,
    acl_kiosks,
    acl_other_users,
    check_login,
    enroll,
    passwd_users,
    revoke,
    target_from_state_dir,
    wait_for_login,
)
from kiosk.enroll.broker_files import acl_without
from kiosk.hub.desk import QueueDesk
from kiosk.hub.models import AuditEntry
from kiosk.hub.worker import HubWorker
from kiosk.netutil import wait_for_port
from kiosk.protocol import topics
from kiosk.protocol.client import MqttLink
from kiosk.settings import MqttSettings, load_settings
from tests.hub.conftest import WAIT, eventually, kiosk_state
from tests.security.conftest import Central, connect


def _online(desk: QueueDesk, kiosk: str) -> bool:
    return any(k.id == kiosk and k.online and k.uplink == "up" for k in desk.kiosks())


def test_the_bundle_holds_what_the_pi_needs(target: Target, central: Central) -> None:
    bundle = enroll(target, "k10", "demo")
    creds = json.loads((bundle.directory / "credentials.json").read_text())
    assert {k: creds[k] for k in ("kiosk", "centre", "username", "host", "port", "tls")} == {
        "kiosk": "k10",
        "centre": "demo",
        "username": "k10",
        "host": "127.0.0.1",
        "port": central.tls_port,
        "tls": True,
    }
    assert Path(creds["ca"]).read_bytes() == central.ca.cert.read_bytes()
    assert bundle.warnings == []
    root = bundle.directory / "root"
    for private in (
        bundle.directory / "credentials.json",
        root / "etc/kiosk/deployment.secret",
        root / "etc/kiosk/touch.toml",
        root / "etc/mosquitto/mosquitto.conf",
    ):
        assert stat.S_IMODE(private.stat().st_mode) == 0o600, private
    assert (root / "etc/kiosk/deployment.secret").read_bytes().strip() == (
        target.secret_file.read_bytes().strip()
    )
    conf = bundle.edge_conf.read_text()
    assert f"address 127.0.0.1:{central.tls_port}" in conf
    assert f"remote_password {creds['password']}" in conf
    assert f"bridge_cafile {creds['ca']}" in conf and "bridge_insecure false" in conf
    assert "topic svc/v1/kiosk/k10/state out 1" in conf
    for user in ("touch", "bridge"):
        settings = load_settings(root / f"etc/kiosk/{user}.toml")
        assert (settings.kiosk.id, settings.kiosk.centre, settings.mqtt.username) == (
            "k10",
            "demo",
            user,
        )
        assert tomllib.loads((root / f"etc/kiosk/{user}.toml").read_text())["mqtt"]["password"]
    # The central side: hashed password, ACL section, and the broker accepts the kiosk.
    passwd = (central.directory / "passwd").read_text()
    assert "k10:$7$" in passwd and creds["password"] not in passwd
    assert acl_kiosks((central.directory / "acl").read_text())["k10"] == "demo"
    assert check_login(central.tls(), "k10", creds["password"]) is None


def test_an_enrolled_kiosk_reaches_the_hub_through_its_bundle_and_is_cut_off_by_revoke(
    target: Target, central: Central, hub: HubWorker, desk: QueueDesk, tmp_path: Path
) -> None:
    """The whole story: enrol, run the bundle's edge broker, the hub sees the kiosk;
    revoke: the live bridge is dropped at once and refused from then on."""
    bundle = enroll(target, "k11", "demo")
    creds = json.loads((bundle.directory / "credentials.json").read_text())
    edge = start_mosquitto(bundle.edge_conf)
    touch: MqttLink | None = None
    try:
        assert wait_for_port("127.0.0.1", creds["edge_port"], WAIT)
        touch_settings = load_settings(bundle.directory / "root/etc/kiosk/touch.toml")
        uplink: list[bytes] = []
        touch = MqttLink("k11-touch", touch_settings.mqtt)
        # The edge broker's own notice (the status LED's source, firmware_bridge/health.py).
        touch.subscribe("$SYS/broker/connection/k11-edge/state", lambda _t, p, _r: uplink.append(p))
        touch.start()
        assert touch.wait_connected(WAIT)
        touch.publish(topics.kiosk_state("k11"), kiosk_state("k11"), retain=True)
        eventually(lambda: _online(desk, "k11"), "k11 online through its bridge")

        result = revoke(target, "k11")
        assert (result.had_password, result.had_acl, result.retained_cleared) == (
            True,
            True,
            True,
        )
        assert result.reloaded_pid == central.process.pid
        # The broker drops the live bridge on SIGHUP (without its Will: Mosquitto sends
        # none for a client it throws out), the kiosk's edge broker sees its link go down,
        # and every reconnect is refused.
        eventually(lambda: uplink and uplink[-1] == b"0", "the kiosk seeing its uplink down")
        log = bundle.directory / "root/var/log/mosquitto/mosquitto.log"
        eventually(lambda: "Connection Refused: Not authorized" in log.read_text(), "a refusal")
        answer = check_login(central.tls(), "k11", creds["password"])
        assert answer is not None and "refused" in answer
    finally:
        if touch is not None:
            touch.stop()
        edge.terminate()
        edge.wait(5)
    (k11,) = [k for k in desk.kiosks() if k.id == "k11"]
    assert k11.revoked_at is not None and "revoked" in k11.problems
    assert "k11" not in passwd_users(central.directory / "passwd")
    assert "k11" not in acl_kiosks((central.directory / "acl").read_text())
    with desk.database.read() as session:
        actions = list(session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))
    assert actions == ["kiosk.enrol", "kiosk.revoke"]


def test_a_revoked_kiosks_live_session_is_dropped_at_once(target: Target, central: Central) -> None:
    bundle = enroll(target, "k12", "demo")
    password = bundle.credentials["password"]
    dropped = threading.Event()
    link = MqttLink(
        "k12",
        MqttSettings(
            host="127.0.0.1",
            port=central.tls_port,
            username="k12",
            password=password,
            tls_ca_file=central.ca.cert,
        ),
    )
    link.start()
    try:
        assert link.wait_connected(WAIT)
        original = link._client.on_disconnect

        def on_disconnect(*args: object) -> None:
            dropped.set()
            original(*args)  # type: ignore[misc]

        link._client.on_disconnect = on_disconnect
        revoke(target, "k12")
        assert dropped.wait(5), "the broker kept the revoked kiosk's session"
    finally:
        link.stop()
    assert wait_for_login(central.tls(), "k12", password, accepted=False) is not None


def test_a_kiosk_that_claims_another_centre_than_enrolled_is_refused(
    plain_target: Target, central: Central, hub: HubWorker, desk: QueueDesk
) -> None:
    bundle = enroll(plain_target, "k13", "demo")
    link = connect(central.mqtt("k13", bundle.credentials["password"]), "k13-touch")
    try:
        before = hub.rejected
        link.publish(topics.kiosk_state("k13"), kiosk_state("k13", centre="elsewhere"))
        eventually(lambda: hub.rejected > before, "the refusal")
        link.publish(topics.kiosk_state("k13"), kiosk_state("k13"))
        eventually(
            lambda: [k for k in desk.kiosks() if k.id == "k13" and k.state == "online"],
            "k13 at its own centre",
        )
    finally:
        link.stop()
    assert hub.metrics.rejected.value(kind="state") >= 1


def test_enrolment_refuses_what_it_must(target: Target, central: Central) -> None:
    for name in ("hub", "observer"):
        with pytest.raises(EnrolError, match="not a kiosk"):
            enroll(target, name, "demo")
    with pytest.raises(EnrolError, match="already enrolled"):
        enroll(target, "k1", "demo")
    with pytest.raises(EnrolError, match="must be"):
        enroll(target, "K1/../x", "demo")
    with pytest.raises(EnrolError, match="not enrolled"):
        revoke(target, "k99")
    with pytest.raises(EnrolError, match="not a kiosk"):
        revoke(target, "hub")
    missing = replace(target, secret_file=target.secret_file.with_name("none"))
    with pytest.raises(EnrolError, match="deployment secret"):
        enroll(missing, "k14", "demo", out=target.bundles_dir / "k14-x")
    assert "k14" not in passwd_users(central.directory / "passwd"), "nothing half-done"


def test_rotate_gives_a_new_password_and_the_old_one_stops_working(
    target: Target, central: Central, tmp_path: Path
) -> None:
    first = enroll(target, "k15", "demo")
    second = enroll(target, "k15", "demo", rotate=True, out=tmp_path / "k15-new")
    old, new = first.credentials["password"], second.credentials["password"]
    assert old != new
    assert check_login(central.tls(), "k15", new) is None
    assert wait_for_login(central.tls(), "k15", old, accepted=False) is not None
    assert list(acl_kiosks((central.directory / "acl").read_text())).count("k15") == 1


def test_files_keep_their_mode_and_other_users(target: Target, central: Central) -> None:
    passwd, acl = central.directory / "passwd", central.directory / "acl"
    passwd.chmod(0o640)
    enroll(target, "k16", "demo")
    revoke(target, "k16")
    assert stat.S_IMODE(passwd.stat().st_mode) == 0o640
    assert {"hub", "observer", "k1", "k2"} <= passwd_users(passwd)
    assert acl_other_users(acl.read_text()) == {"hub", "observer"}


def test_an_acl_written_before_the_markers_loses_the_bare_user_block() -> None:
    legacy = (
        "pattern readwrite svc/v1/kiosk/%u/#\n\nuser hub\ntopic readwrite svc/v1/#\n\n"
        "# kiosk k1 in centre demo: its centre's call board besides its own subtree.\n"
        "user k1\ntopic read svc/v1/centre/demo/board\n\n"
        "user k2\ntopic read svc/v1/centre/demo/board\n"
    )
    text, removed = acl_without(legacy, "k1")
    assert removed and "user k1" not in text and "# kiosk k1" not in text
    assert "user k2" in text and "user hub" in text


def test_enroll_and_revoke_from_the_command_line_against_a_demo_folder(
    central: Central, tmp_path: Path, hub_settings: object, capsys: pytest.CaptureFixture[str]
) -> None:
    """A folder laid out as `kiosk demo` lays it out, pointing at the running broker."""
    state = tmp_path / "demo"
    (state / "config").mkdir(parents=True)
    (state / "central").symlink_to(central.directory)
    (state / "demo.json").write_text(
        json.dumps(
            {
                "pids": {"central-broker": central.process.pid},
                "ports": {"central_broker": central.port},
            }
        )
    )
    settings = hub_settings.model_dump(mode="json")  # type: ignore[attr-defined]
    (state / "config" / "hub.json").write_text(json.dumps(settings))
    (state / "secrets.json").write_text(json.dumps({"deployment": "d" * 64}))
    parser = argparse.ArgumentParser()
    enroll_module.add_parser(parser.add_subparsers())

    def run(*argv: str) -> int:
        args = parser.parse_args(list(argv))
        return int(args.func(args))

    assert run("enroll", "k17", "--centre", "demo", "--state-dir", str(state)) == 0
    out = capsys.readouterr().out
    assert "kiosk k17 enrolled for centre demo" in out
    bundle = state / "bundles" / "k17"
    creds = json.loads((bundle / "credentials.json").read_text())
    assert (creds["port"], creds["tls"]) == (central.port, False)
    assert (bundle / "root/etc/kiosk/deployment.secret").read_text().strip() == "d" * 64
    assert "root/" in (bundle / "INSTALL.txt").read_text()
    target = target_from_state_dir(state)
    assert check_login(target.endpoint, "k17", creds["password"]) is None

    assert run("revoke", "k17", "--state-dir", str(state)) == 0
    assert "kiosk k17 revoked" in capsys.readouterr().out
    assert wait_for_login(target.endpoint, "k17", creds["password"], accepted=False)
    assert run("revoke", "k17", "--state-dir", str(state)) == 1
    assert "not enrolled" in capsys.readouterr().err


def test_production_enrolment_needs_a_host_and_tls_or_says_why(
    capsys: pytest.CaptureFixture[str],
) -> None:
    parser = argparse.ArgumentParser()
    enroll_module.add_parser(parser.add_subparsers())
    args = parser.parse_args(["enroll", "k18", "--centre", "demo"])
    assert args.func(args) == 1
    assert "--host is required" in capsys.readouterr().err
    args = parser.parse_args(["enroll", "k18", "--centre", "demo", "--host", "mqtt.example"])
    assert args.func(args) == 1
    assert "--ca-file is required" in capsys.readouterr().err


def test_the_ca_command_makes_a_ca_once_and_server_certificates(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from kiosk import ca as ca_module

    parser = argparse.ArgumentParser()
    ca_module.add_parser(parser.add_subparsers())

    def run(*argv: str) -> int:
        args = parser.parse_args(list(argv))
        return int(args.func(args))

    folder = tmp_path / "ca"
    assert run("ca", "init", "--dir", str(folder)) == 0
    assert stat.S_IMODE((folder / "ca.key").stat().st_mode) == 0o600
    assert run("ca", "init", "--dir", str(folder)) == 1
    assert "refusing to replace" in capsys.readouterr().err
    assert (
        run("ca", "server", "--dir", str(folder), "--host", "mqtt.example", "--host", "10.0.0.5")
        == 0
    )
    assert "use_username_as_clientid true" in capsys.readouterr().out
    text = subprocess.run(
        ["openssl", "x509", "-in", str(folder / "server.crt"), "-noout", "-text"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "DNS:mqtt.example" in text and "IP Address:10.0.0.5" in text
    assert run("ca", "client", "--dir", str(folder), "k1") == 0
    assert Authority(folder).check().cert.exists()
    assert (folder / "clients" / "k1.crt").exists()
    assert run("ca", "client", "--dir", str(folder), "Bad Name") == 1
