"""Security headers on every response, and the session cookie's Secure flag.

- Content-Security-Policy: scripts, styles and everything else only from this site, no
  inline script or style (the templates have none; a test checks it), forms post only
  here, and ``frame-ancestors 'none'``: no other page can frame the console and trick a
  clerk into a click. The call display is the exception: it is public, has nothing to
  click and no session, and a centre may show it inside a signage page on the display PC,
  so it may be framed by anyone, or only by the origins in
  ``settings.hub.display_frame_ancestors`` when that is set.
- Referrer-Policy no-referrer: no console URL (centre, kiosk ids) leaks in a Referer.
- Staff pages are never cached (Cache-Control no-store): a shared counter PC's browser
  history must not show one clerk's pages to the next after logout.
- Strict-Transport-Security when the request came over HTTPS.
- The session cookie is Secure when the request came over HTTPS (directly or, with
  ``settings.hub.proxy_hops``, through a proxy that says so), or always with
  ``settings.hub.cookie_secure``; plain HTTP stays possible for the demo on 127.0.0.1.
"""

from __future__ import annotations

from flask import Flask, request
from flask.sessions import SecureCookieSessionInterface
from werkzeug.wrappers import Response

CSP_BASE = (
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "font-src 'self'",
    "form-action 'self'",
    "base-uri 'none'",
    "object-src 'none'",
)
FRAMEABLE_BLUEPRINTS = frozenset({"display"})
HSTS = "max-age=31536000"


def content_security_policy(frame_ancestors: str | None) -> str:
    parts = list(CSP_BASE)
    if frame_ancestors is not None:
        parts.append(f"frame-ancestors {frame_ancestors}")
    return "; ".join(parts)


class ConsoleSessionInterface(SecureCookieSessionInterface):
    """Flask's signed cookie session, Secure per request (see the module's docstring)."""

    def __init__(self, always_secure: bool) -> None:
        self.always_secure = always_secure

    def get_cookie_secure(self, app: Flask) -> bool:
        return self.always_secure or request.is_secure


def install_headers(app: Flask, display_frame_ancestors: str | None) -> None:
    console_csp = content_security_policy("'none'")
    display_csp = content_security_policy(display_frame_ancestors)

    @app.after_request
    def headers(response: Response) -> Response:
        framed = request.blueprint in FRAMEABLE_BLUEPRINTS
        response.headers["Content-Security-Policy"] = display_csp if framed else console_csp
        if not framed:
            response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
        response.headers["Cross-Origin-Resource-Policy"] = "same-origin"
        response.headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
        if request.endpoint != "static" and "Cache-Control" not in response.headers:
            response.headers["Cache-Control"] = "no-store"
        if request.is_secure:
            response.headers["Strict-Transport-Security"] = HSTS
        return response
