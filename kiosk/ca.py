"""``kiosk ca``: a private certificate authority for the central broker's TLS listener.

For sites without a CA of their own: one CA key and certificate, a server certificate for
the central Mosquitto (with the names and addresses kiosks dial), and client certificates
for kiosks when the listener requires them. The ``cryptography`` package is not a
dependency of this project, so the work is done by the ``openssl`` command (Debian ships
it), with EC P-256 keys: small, fast on a Raspberry Pi, and accepted by Mosquitto 2.0.

Layout of a CA folder::

    ca.key  ca.crt  ca.srl                 the authority (ca.key 0600: keep it off the broker)
    server.key  server.crt                 for the broker's certfile/keyfile
    clients/<name>.key  clients/<name>.crt for kiosks' bridge_certfile/bridge_keyfile
"""

from __future__ import annotations

import argparse
import ipaddress
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from string import Template

from kiosk.brokers import TEMPLATE_DIR
from kiosk.protocol import topics

CA_DAYS = 3650
# Browsers cap server certificates at 398 days; Mosquitto and paho do not, and a kiosk
# fleet's broker certificate is renewed by hand, so two years.
SERVER_DAYS = 825
CLIENT_DAYS = 825
Command = Callable[[argparse.Namespace], int]
_TIMEOUT = 60.0  # seconds for one openssl run (key generation takes milliseconds)


class CaError(RuntimeError):
    """openssl is missing or failed, or the CA folder is not as expected."""


@dataclass(frozen=True, slots=True)
class CertPair:
    cert: Path
    key: Path


@dataclass(frozen=True, slots=True)
class Authority:
    """A CA folder made by :func:`init_ca`."""

    directory: Path

    @property
    def cert(self) -> Path:
        return self.directory / "ca.crt"

    @property
    def key(self) -> Path:
        return self.directory / "ca.key"

    def check(self) -> Authority:
        for path in (self.cert, self.key):
            if not path.is_file():
                raise CaError(f"{path} is missing: run `kiosk ca init --dir {self.directory}`")
        return self


def _openssl(*args: str) -> None:
    tool = shutil.which("openssl")
    if tool is None:
        raise CaError("the openssl command is not installed (Debian: apt-get install openssl)")
    result = subprocess.run(  # noqa: S603 - fixed tool, arguments we build
        [tool, *args], capture_output=True, text=True, check=False, timeout=_TIMEOUT
    )
    if result.returncode != 0:
        raise CaError(f"openssl {args[0]} failed: {result.stderr.strip()}")


def _new_key(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    _openssl(
        "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", str(path)
    )
    path.chmod(0o600)


def init_ca(directory: Path, common_name: str = "Kiosk fleet CA", days: int = CA_DAYS) -> Authority:
    """Make the CA key and self-signed certificate; refuses to overwrite an existing CA
    (every certificate it signed would stop being trusted)."""
    ca = Authority(directory)
    if ca.key.exists() or ca.cert.exists():
        raise CaError(f"{directory} already holds a CA; refusing to replace it")
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    _new_key(ca.key)
    _openssl(
        "req", "-x509", "-new", "-key", str(ca.key), "-sha256", "-days", str(days),
        "-subj", f"/CN={_subject_text(common_name)}",
        "-addext", "basicConstraints=critical,CA:TRUE,pathlen:0",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        "-out", str(ca.cert),
    )  # fmt: skip
    return ca


def _subject_text(value: str) -> str:
    # openssl -subj splits on "/" and treats "+" and "=" specially.
    if not value or any(c in value for c in "/=+\\\n"):
        raise CaError(f"{value!r} cannot be a certificate name (no / = + \\ or newlines)")
    return value


def _sign(ca: Authority, key: Path, out: Path, subject: str, extensions: str, days: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        csr = Path(tmp) / "req.csr"
        ext = Path(tmp) / "ext.cnf"
        ext.write_text(extensions, encoding="utf-8")
        _openssl("req", "-new", "-key", str(key), "-subj", f"/CN={subject}", "-out", str(csr))
        _openssl(
            "x509", "-req", "-in", str(csr), "-CA", str(ca.cert), "-CAkey", str(ca.key),
            "-CAcreateserial", "-CAserial", str(ca.directory / "ca.srl"),
            "-days", str(days), "-sha256", "-extfile", str(ext), "-out", str(out),
        )  # fmt: skip


def issue_server(
    ca: Authority,
    hosts: list[str],
    *,
    name: str = "server",
    days: int = SERVER_DAYS,
) -> CertPair:
    """A server certificate for the broker, valid for each DNS name or IP in ``hosts``."""
    ca.check()
    if not hosts:
        raise CaError("a server certificate needs at least one --host (name or IP kiosks dial)")
    alt_names = []
    for host in hosts:
        try:
            alt_names.append(f"IP:{ipaddress.ip_address(host)}")
        except ValueError:
            alt_names.append(f"DNS:{_subject_text(host)}")
    pair = CertPair(ca.directory / f"{name}.crt", ca.directory / f"{name}.key")
    _new_key(pair.key)
    _sign(
        ca,
        pair.key,
        pair.cert,
        _subject_text(hosts[0]),
        "basicConstraints=critical,CA:FALSE\n"
        "keyUsage=critical,digitalSignature,keyAgreement\n"
        "extendedKeyUsage=serverAuth\n"
        f"subjectAltName={','.join(alt_names)}\n",
        days,
    )
    return pair


def issue_client(
    ca: Authority, name: str, out_dir: Path | None = None, days: int = CLIENT_DAYS
) -> CertPair:
    """A client certificate with CN = ``name`` (a kiosk id) for a listener that requires one."""
    ca.check()
    topics.check_id(name, "client name")
    folder = out_dir or ca.directory / "clients"
    pair = CertPair(folder / f"{name}.crt", folder / f"{name}.key")
    _new_key(pair.key)
    _sign(
        ca,
        pair.key,
        pair.cert,
        name,
        "basicConstraints=critical,CA:FALSE\n"
        "keyUsage=critical,digitalSignature,keyAgreement\n"
        "extendedKeyUsage=clientAuth\n",
        days,
    )
    return pair


@dataclass(frozen=True, slots=True)
class TlsListener:
    """The central broker's TLS listener for kiosks (broker_config/central-tls.conf.template)."""

    port: int
    ca_file: Path
    cert_file: Path
    key_file: Path
    bind: str = "0.0.0.0"  # noqa: S104 - kiosks come over the network; TLS and passwords guard it
    require_certificate: bool = False

    def config(self) -> str:
        """The listener block, to append to (or include in) the central mosquitto.conf."""
        template = Template((TEMPLATE_DIR / "central-tls.conf.template").read_text("utf-8"))
        return template.substitute(
            tls_port=self.port,
            tls_bind=self.bind,
            ca_file=self.ca_file,
            cert_file=self.cert_file,
            key_file=self.key_file,
            require_certificate="true" if self.require_certificate else "false",
        )


# --- command line ---------------------------------------------------------------------------


def _cmd_init(args: argparse.Namespace) -> int:
    ca = init_ca(args.dir, args.name, args.days)
    print(f"CA certificate: {ca.cert}\nCA key (keep it off the broker): {ca.key}")
    return 0


def _cmd_server(args: argparse.Namespace) -> int:
    pair = issue_server(Authority(args.dir), args.host, name=args.name, days=args.days)
    print(f"server certificate: {pair.cert}\nserver key: {pair.key}")
    print(
        "central mosquitto.conf, TLS listener:\n"
        + TlsListener(
            args.port, Authority(args.dir).cert, pair.cert, pair.key, args.bind, args.require_cert
        ).config()
    )
    return 0


def _cmd_client(args: argparse.Namespace) -> int:
    pair = issue_client(Authority(args.dir), args.name, args.out, args.days)
    print(f"client certificate: {pair.cert}\nclient key: {pair.key}")
    return 0


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``kiosk ca init|server|client``."""
    ca = subparsers.add_parser("ca", help="a private CA for the central broker's TLS listener")
    sub = ca.add_subparsers(dest="ca_command", required=True)

    init = sub.add_parser("init", help="make the CA key and certificate")
    init.add_argument("--dir", type=Path, required=True, help="the CA folder (made 0700)")
    init.add_argument("--name", default="Kiosk fleet CA", help="the CA's common name")
    init.add_argument("--days", type=int, default=CA_DAYS)
    init.set_defaults(func=_guard(_cmd_init))

    server = sub.add_parser("server", help="a certificate for the central broker")
    server.add_argument("--dir", type=Path, required=True, help="the CA folder")
    server.add_argument(
        "--host", action="append", required=True, help="DNS name or IP kiosks dial (repeat)"
    )
    server.add_argument("--name", default="server", help="file name: NAME.crt, NAME.key")
    server.add_argument("--days", type=int, default=SERVER_DAYS)
    server.add_argument("--port", type=int, default=8883, help="for the printed listener block")
    server.add_argument("--bind", default="0.0.0.0", help="for the printed listener block")  # noqa: S104
    server.add_argument(
        "--require-cert", action="store_true", help="kiosks also need a client certificate"
    )
    server.set_defaults(func=_guard(_cmd_server))

    client = sub.add_parser("client", help="a client certificate for a kiosk")
    client.add_argument("--dir", type=Path, required=True, help="the CA folder")
    client.add_argument("name", help="the kiosk id (the certificate's CN)")
    client.add_argument(
        "--out", type=Path, help="folder for NAME.crt/NAME.key (default DIR/clients)"
    )
    client.add_argument("--days", type=int, default=CLIENT_DAYS)
    client.set_defaults(func=_guard(_cmd_client))


def _guard(command: Command) -> Command:
    """Errors the operator can fix become a message and exit code 1, not a traceback."""

    def run(args: argparse.Namespace) -> int:
        try:
            return command(args)
        except (CaError, topics.TopicError) as err:
            print(f"kiosk ca: {err}", file=sys.stderr)
            return 1

    return run
