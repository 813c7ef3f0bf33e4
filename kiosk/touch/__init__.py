"""The resident-facing touch app: Flask pages and a small JSON API, one blueprint per feature.

``create_app(settings, link, ui)`` builds the app (``ui``: the screens' timers, see ui.py);
``service.run(settings)`` wires the real parts. docs/touch.md describes the screens.
"""

from __future__ import annotations

from kiosk.touch.app import create_app

__all__ = ["create_app"]
