"""The command line: ``kiosk enroll``, ``kiosk revoke`` and ``kiosk deployment-secret``,
their options, and the targets (production host or demo folder) they build."""

from __future__ import annotations

import argparse
import logging
import sys
import tomllib
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from kiosk.brokers import BrokerSetupError
from kiosk.ca import CaError
from kiosk.enroll.actions import enroll, revoke
from kiosk.enroll.bundle import BundleOptions, create_secret
from kiosk.enroll.targets import (
    DEFAULT_ACL,
    DEFAULT_PASSWD,
    DEFAULT_PID_FILE,
    DEFAULT_SECRET,
    DEFAULT_TLS_PORT,
    CentralBrokerFiles,
    Endpoint,
    EnrolError,
    Target,
    target_from_state_dir,
)
from kiosk.settings import SettingsError, load_settings


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
