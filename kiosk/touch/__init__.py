"""The resident-facing touch app: Flask pages and a small JSON API, one blueprint per feature.

``create_app(settings, link)`` builds the app; ``service.run(settings)`` wires the real parts.
"""

from __future__ import annotations

from kiosk.touch.app import create_app

__all__ = ["create_app"]
