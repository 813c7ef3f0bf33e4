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

Where each part is:

- ``targets``: where things are (the central broker's files, the endpoint kiosks dial, the
  deployment secret), on a production host or a running demo; ``EnrolError``;
- ``files``: writing private files, and replacing a file atomically;
- ``broker_files``: the central password and ACL files;
- ``broker``: the running central broker (reload, test login, clear retained topics);
- ``bundle``: the folder a kiosk installs, and the deployment secret;
- ``actions``: ``enroll`` and ``revoke``, step by step;
- ``cli``: the ``kiosk enroll``, ``kiosk revoke`` and ``kiosk deployment-secret`` commands.
"""

from kiosk.enroll.actions import Revocation, enroll, revoke
from kiosk.enroll.broker import check_login, clear_retained, reload_broker, wait_for_login
from kiosk.enroll.broker_files import acl_kiosks, acl_other_users, passwd_users
from kiosk.enroll.bundle import Bundle, BundleOptions, create_secret
from kiosk.enroll.cli import add_parser
from kiosk.enroll.targets import (
    CentralBrokerFiles,
    Endpoint,
    EnrolError,
    Target,
    target_from_state_dir,
)

__all__ = [
    "Bundle",
    "BundleOptions",
    "CentralBrokerFiles",
    "Endpoint",
    "EnrolError",
    "Revocation",
    "Target",
    "acl_kiosks",
    "acl_other_users",
    "add_parser",
    "check_login",
    "clear_retained",
    "create_secret",
    "enroll",
    "passwd_users",
    "reload_broker",
    "revoke",
    "target_from_state_dir",
    "wait_for_login",
]
