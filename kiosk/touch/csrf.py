"""CSRF protection for the kiosk's HTML forms, and the same-origin rule for the JSON API.

Forms carry a per-session token (the session is Flask's signed cookie, SameSite=Strict).
The JSON API needs no token: it only accepts ``application/json``, which a page on another
site cannot send without a CORS preflight we never approve, and it refuses a foreign Origin.
"""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import urlsplit

from flask import request, session

FIELD = "csrf_token"
_SESSION_KEY = "csrf"


def csrf_token() -> str:
    """The session's token, made on first use (templates call this for every form)."""
    token = session.get(_SESSION_KEY)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session[_SESSION_KEY] = token
    return token


def csrf_ok() -> bool:
    """Whether the submitted form carries this session's token."""
    expected = session.get(_SESSION_KEY)
    submitted = request.form.get(FIELD)
    if not isinstance(expected, str) or not submitted:
        return False
    return hmac.compare_digest(expected.encode(), submitted.encode())


def same_origin() -> bool:
    """False only when the browser says the request comes from another origin."""
    origin = request.headers.get("Origin")
    if origin is None:
        return True  # not a browser (curl, the benchmark), or a same-origin GET
    return urlsplit(origin).netloc == request.host
