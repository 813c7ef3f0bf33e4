"""The ``kiosk`` command: one entry point for every process and admin task."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from firmware_bridge.sim.control import add_parser as add_sim_parser
from kiosk import ca, enroll
from kiosk.settings import Settings, SettingsError, load_settings

DEFAULT_STATE_DIR = Path("state/demo")


def _settings(args: argparse.Namespace, role: str) -> Settings:
    """Settings from ``--config``, or from a running demo's state dir (``--state-dir``)."""
    config = args.config
    if config is None and getattr(args, "state_dir", None) is not None:
        from kiosk.demo import role_config

        config = role_config(args.state_dir, role)
    settings = load_settings(config)
    logging.basicConfig(
        level=settings.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    return settings


def _cmd_demo(args: argparse.Namespace) -> int:
    from kiosk.demo import run_demo

    return run_demo(
        args.state_dir,
        port_base=args.port_base,
        kiosks=args.kiosks,
        printers=dict(args.printer),
        idreaders=dict(args.idreader),
        uplinks={kiosk: int(port) for kiosk, port in args.uplink},
    )


def _cmd_hub(args: argparse.Namespace) -> int:
    from kiosk.hub.service import run

    return run(_settings(args, "hub"))


def _cmd_touch(args: argparse.Namespace) -> int:
    from kiosk.touch.service import run

    return run(_settings(args, f"touch-{args.kiosk}"))


def _cmd_bridge(args: argparse.Namespace) -> int:
    from firmware_bridge.service import run

    return run(_settings(args, f"bridge-{args.kiosk}"))


def _cmd_asyncapi(_args: argparse.Namespace) -> int:
    from kiosk.protocol.asyncapi import asyncapi_yaml

    sys.stdout.write(asyncapi_yaml())
    return 0


def _cmd_user_add(args: argparse.Namespace) -> int:
    from kiosk.hub.users import UserError, create_user

    settings = _settings(args, "hub")
    password = args.password or sys.stdin.readline().strip()
    if not password:
        print("a password is required (--password or on standard input)", file=sys.stderr)
        return 2
    try:
        create_user(
            settings.hub.database_url,
            args.username,
            password,
            role=args.role,
            centres=args.centre,
        )
    except UserError as err:
        print(f"kiosk: {err}", file=sys.stderr)
        return 1
    print(f"user {args.username} ({args.role}) created")
    return 0


def _cmd_totp(args: argparse.Namespace) -> int:
    """An admin's second factor: print the new secret and its otpauth:// URI once."""
    from kiosk.hub.totp import TotpError, cli_totp

    try:
        print(cli_totp(_settings(args, "hub").hub.database_url, args.action, args.user))
    except TotpError as err:
        print(f"kiosk: {err}", file=sys.stderr)
        return 1
    return 0


def _cmd_token(args: argparse.Namespace) -> int:
    """Staff API tokens and case-unit grants (kiosk.hub.cases)."""
    from kiosk.hub.cases.tokens import cli_token

    return cli_token(_settings(args, "hub").hub.database_url, args)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kiosk", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="run the whole system on this machine with simulators")
    demo.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR)
    demo.add_argument("--port-base", type=int, default=8000)
    demo.add_argument("--kiosks", type=int, default=1)
    for device in ("printer", "idreader"):
        demo.add_argument(
            f"--{device}",
            type=_kiosk_url,
            action="append",
            default=[],
            metavar="kI=URL",
            help=f"use a real {device} (any pyserial URL) for kiosk kI instead of the simulator",
        )
    demo.add_argument(
        "--uplink",
        type=_kiosk_url,
        action="append",
        default=[],
        metavar="kI=PORT",
        help="kiosk kI's edge bridge connects to this loopback port (a relay to the central "
        "broker, for fault tests) instead of the central broker",
    )
    demo.set_defaults(func=_cmd_demo)

    for name, func, helptext in (
        ("hub", _cmd_hub, "run the hub: MQTT workers and the staff console"),
        ("touch", _cmd_touch, "run a kiosk's touch app"),
        ("bridge", _cmd_bridge, "run a kiosk's firmware bridge (printer, card reader, GPIO)"),
    ):
        cmd = sub.add_parser(name, help=helptext)
        _add_config_args(cmd)
        if name != "hub":
            cmd.add_argument("--kiosk", default="k1", help="with --state-dir: which kiosk")
        cmd.set_defaults(func=func)

    add_sim_parser(sub)
    enroll.add_parser(sub)
    ca.add_parser(sub)

    asyncapi = sub.add_parser("asyncapi", help="print the MQTT contract as AsyncAPI YAML")
    asyncapi.set_defaults(func=_cmd_asyncapi)

    user = sub.add_parser("user-add", help="create a staff console user")
    _add_config_args(user)
    user.add_argument("username")
    user.add_argument(
        "--role", default="admin", help="admin, staff, case_handler, points_officer or auditor"
    )
    user.add_argument(
        "--centre",
        action="append",
        default=[],
        help="a centre the user may see (repeat); admins see all",
    )
    user.add_argument("--password", help="read from standard input when left out")
    user.set_defaults(func=_cmd_user_add)

    second = sub.add_parser("totp", help="an admin's second factor (RFC 6238 codes)")
    _add_config_args(second)
    second.add_argument("action", choices=["enable", "disable"])
    second.add_argument("--user", required=True, help="the admin account")
    second.set_defaults(func=_cmd_totp)

    token = sub.add_parser("token", help="staff API tokens (create prints one, once)")
    _add_config_args(token)
    token.add_argument("action", choices=["create", "revoke", "grant-unit"])
    token.add_argument("--user", required=True, help="the staff user")
    token.add_argument("--label", default="", help="create: what the token is for")
    token.add_argument("--unit", help="grant-unit: the case unit the user handles")
    token.add_argument("--days", type=int, default=90, help="create: days until it expires")
    token.add_argument(
        "--allow-admin",
        action="store_true",
        help="create: also for an admin or a TOTP user (a token skips the second factor)",
    )
    token.set_defaults(func=_cmd_token)
    return parser


def _kiosk_url(value: str) -> tuple[str, str]:
    kiosk, sep, url = value.partition("=")
    if not sep or not kiosk or not url:
        raise argparse.ArgumentTypeError(f"expected kI=URL, got {value!r}")
    return kiosk, url


def _add_config_args(cmd: argparse.ArgumentParser) -> None:
    group = cmd.add_mutually_exclusive_group()
    group.add_argument("--config", type=Path, help="settings file (TOML)")
    group.add_argument("--state-dir", type=Path, help="act on the demo running in this folder")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return int(args.func(args))
    except SettingsError as err:
        print(f"kiosk: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
