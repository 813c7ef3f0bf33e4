"""How the touch screens behave over time: the idle prompt, forgetting, polling, sleeping.

One frozen object given to ``create_app`` (tests pass short times); a kiosk builds it from
its settings (``[touch]`` in the settings file) with :meth:`TouchUi.from_settings`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from kiosk.settings import TouchSettings


@dataclass(frozen=True, slots=True)
class TouchUi:
    idle_prompt: float = 60.0
    """Seconds without a touch before the screen asks "还在吗？"."""
    idle_forget: float = 15.0
    """Seconds more, unanswered, before the resident is forgotten and the attract screen shows."""
    status_every: float = 2.0
    """Seconds between a page's status polls (hub banner, card read, help, motion)."""
    activity_every: float = 5.0
    """A page reports touches to the server at most this often (the server's idle clock)."""
    sleep_after: float = 120.0
    """The attract screen dims after this long without motion or a touch."""
    help_repeat_after: float = 30.0
    """Another help request within this time is confirmed on screen but not sent again."""

    def __post_init__(self) -> None:
        for field in fields(self):
            if not getattr(self, field.name) > 0:
                raise ValueError(f"TouchUi.{field.name} must be positive")

    @classmethod
    def from_settings(cls, touch: TouchSettings) -> TouchUi:
        return cls(**{field.name: getattr(touch, field.name) for field in fields(cls)})

    @property
    def idle_total(self) -> float:
        """After this long without a touch the resident is forgotten, by the page or the server."""
        return self.idle_prompt + self.idle_forget
