"""The staff console as a test client sees it: the CSRF token a page carries, logging in."""

from __future__ import annotations

import re

from flask.testing import FlaskClient
from werkzeug.test import TestResponse


def csrf_token(client: FlaskClient, path: str = "/login") -> str:
    """The token of the session ``client`` holds, as ``path`` shows it (the page's meta
    tag, or a form's hidden field)."""
    page = client.get(path).get_data(as_text=True)
    found = re.search(r'name="csrf[-_]token" (?:content|value)="([^"]+)"', page)
    assert found, page
    return found.group(1)


def post_login(
    client: FlaskClient, username: str, password: str, *, remote_addr: str = "10.1.2.3"
) -> TestResponse:
    return client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": csrf_token(client)},
        environ_base={"REMOTE_ADDR": remote_addr},
    )


def log_in(client: FlaskClient, username: str, password: str) -> str:
    """Log ``client`` in; returns the CSRF token of its new session (logging in starts one,
    with a token of its own)."""
    assert post_login(client, username, password).status_code == 302
    return csrf_token(client, "/")
