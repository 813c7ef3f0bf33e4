"""What each staff role may do. Views ask :func:`allowed`; nothing else grants a right.

Centre scope is separate: a user acts only on the centres granted to them (an admin on
all of them, see :class:`kiosk.hub.users.StaffUser`).
"""

from __future__ import annotations

from typing import Literal

Permission = Literal[
    "queue.view",  # today's tickets, the counter page
    "queue.call",  # call the next ticket
    "fleet.view",  # kiosks and alerts
    "alerts.manage",  # acknowledge and resolve alerts
    "audit.view",  # the audit log and its export
    "kiosk.command",  # remote commands to kiosks
    "users.manage",  # staff accounts: create, passwords, roles, grants, disable, TOTP
]

# Case handlers and points officers have their own modules still to come (cases, points);
# until then they can look at the queue, nothing more. The auditor changes nothing.
PERMISSIONS: dict[str, frozenset[str]] = {
    "admin": frozenset(
        {
            "queue.view",
            "queue.call",
            "fleet.view",
            "alerts.manage",
            "audit.view",
            "kiosk.command",
            "users.manage",
        }
    ),
    "staff": frozenset({"queue.view", "queue.call", "fleet.view", "alerts.manage"}),
    "case_handler": frozenset({"queue.view"}),
    "points_officer": frozenset({"queue.view"}),
    "auditor": frozenset({"queue.view", "fleet.view", "audit.view"}),
}


def allowed(role: str | None, permission: Permission) -> bool:
    return role is not None and permission in PERMISSIONS.get(role, frozenset())
