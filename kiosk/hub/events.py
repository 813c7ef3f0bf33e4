"""Kiosk events as the hub reads them (``svc/v1/kiosk/{kiosk}/event/{type}``).

Every event is first read as an :class:`EventHeader`: the envelope and the ``kiosk`` it
names, whatever else its type carries. The hub drops an event whose body names another
kiosk than its topic: the broker's ACL keeps kiosk A off B's topics, and this keeps A from
speaking for B inside its own.

The payload types themselves (``HelpRequested``, ``KioskCommand``, ``CommandResult``) are
the contract's, in :mod:`kiosk.protocol.messages`; they are re-exported here for the hub.
"""

from __future__ import annotations

from pydantic import ConfigDict, Field

from kiosk.protocol.messages import (
    CommandName,
    CommandResult,
    Envelope,
    HelpRequested,
    KioskCommand,
)
from kiosk.protocol.topics import COMMAND_RESULT, HELP_REQUESTED

__all__ = [
    "COMMAND_RESULT",
    "HELP_REQUESTED",
    "CommandName",
    "CommandResult",
    "EventHeader",
    "HelpRequested",
    "KioskCommand",
]


class EventHeader(Envelope):
    """What every kiosk event has; the rest of the body is left to its type."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    kiosk: str = Field(min_length=1, max_length=32)
