"""Static files for a kiosk: versioned URLs cached for good, gzip, nothing from elsewhere.

The page-weight budget (home under 200 KB at first load, every later screen under 50 KB)
and a Pi's slow SD card both ask the browser to fetch each file once: every URL the
templates make carries ``?v=<content hash>`` and is answered ``immutable``; vendored files
carry their version in their folder's name. Text files are gzipped once, in memory (waitress
does not compress), and sent compressed to a browser that accepts it.
"""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
import threading
from dataclasses import dataclass
from pathlib import Path

from flask import Flask, Response, abort, request
from werkzeug.security import safe_join
from werkzeug.wrappers.response import Response as BaseResponse

STATIC = Path(__file__).resolve().parent / "static"
FOREVER = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"  # an unversioned URL: use the copy, but ask first (a 304 is tiny)
COMPRESSIBLE = (".css", ".js", ".svg", ".json", ".txt", ".html")
MIN_COMPRESS = 512  # bytes; below this gzip's header costs more than it saves


@dataclass(frozen=True, slots=True)
class _Asset:
    body: bytes
    gzipped: bytes | None
    version: str
    mimetype: str


class StaticFiles:
    """Reads each file once; a kiosk's static files change only with a new release."""

    def __init__(self, root: Path = STATIC) -> None:
        self._root = root
        self._lock = threading.Lock()
        self._cache: dict[str, _Asset] = {}

    def version(self, filename: str) -> str | None:
        asset = self._load(filename)
        return asset.version if asset else None

    def response(self, filename: str) -> BaseResponse:
        asset = self._load(filename)
        if asset is None:
            abort(404)
        versioned = request.args.get("v") == asset.version or "/vendor/" in f"/{filename}"
        use_gzip = asset.gzipped is not None and "gzip" in request.headers.get(
            "Accept-Encoding", ""
        )
        response = Response(asset.gzipped if use_gzip else asset.body, mimetype=asset.mimetype)
        if use_gzip:
            response.headers["Content-Encoding"] = "gzip"
        if asset.gzipped is not None:
            response.vary.add("Accept-Encoding")
        response.headers["Cache-Control"] = FOREVER if versioned else REVALIDATE
        response.set_etag(asset.version + ("-gz" if use_gzip else ""))
        return response.make_conditional(request)

    def _load(self, filename: str) -> _Asset | None:
        with self._lock:
            if filename in self._cache:
                return self._cache[filename]
        joined = safe_join(str(self._root), filename)
        if joined is None or not Path(joined).is_file():
            return None
        body = Path(joined).read_bytes()
        mimetype = mimetypes.guess_type(filename)[0] or "application/octet-stream"
        if mimetype.startswith("text/") or mimetype.endswith(("javascript", "json", "svg+xml")):
            mimetype += "; charset=utf-8"
        compress = filename.endswith(COMPRESSIBLE) and len(body) >= MIN_COMPRESS
        # mtime=0: the same bytes on every start, so ETags stay stable across restarts.
        gzipped = gzip.compress(body, compresslevel=9, mtime=0) if compress else None
        version = hashlib.sha256(body).hexdigest()[:12]
        asset = _Asset(body, gzipped, version, mimetype)
        with self._lock:
            self._cache[filename] = asset
        return asset


def register(app: Flask) -> None:
    """Serve ``/static/<file>`` (endpoint ``static``) and version every ``url_for`` of it."""
    files = StaticFiles()
    app.add_url_rule("/static/<path:filename>", endpoint="static", view_func=files.response)

    def add_version(endpoint: str, values: dict[str, object]) -> None:
        if endpoint == "static" and "v" not in values:
            version = files.version(str(values.get("filename", "")))
            if version:
                values["v"] = version

    app.url_defaults(add_version)
    app.after_request(compress_pages)


def compress_pages(response: Response) -> Response:
    """Gzip a page or JSON answer for a browser that accepts it (an ``after_request`` hook).

    Pages carry a CSRF token, and compression next to a secret is what BREACH measures; it
    needs an attacker who reflects input into the page and watches the sizes on the wire.
    The touch app listens on loopback only, so no one can watch its wire.
    """
    if (
        response.direct_passthrough
        or response.is_streamed
        or "Content-Encoding" in response.headers
        or response.status_code in (204, 304)
        or response.mimetype not in ("text/html", "application/json")
        or "gzip" not in request.headers.get("Accept-Encoding", "")
    ):
        return response
    body = response.get_data()
    if len(body) < MIN_COMPRESS:
        return response
    response.set_data(gzip.compress(body, compresslevel=6))
    response.headers["Content-Encoding"] = "gzip"
    response.vary.add("Accept-Encoding")
    return response
