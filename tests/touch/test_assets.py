"""Static files: versioned and cached for good, gzipped, vendored with their licences."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

from flask.testing import FlaskClient

from kiosk.touch.assets import STATIC

VENDOR = STATIC / "vendor"


def test_pages_link_versioned_assets_cached_for_good(bare: FlaskClient) -> None:
    page = bare.get("/find").get_data(as_text=True)
    urls = re.findall(r'(?:href|src)="(/static/[^"]+)"', page)
    assert any(u.startswith("/static/touch.css?v=") for u in urls), urls
    assert any(u.startswith("/static/keyboard.js?v=") for u in urls), urls
    for url in urls:
        response = bare.get(url)
        assert response.status_code == 200, url
        assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable", url


def test_an_unversioned_url_is_revalidated(bare: FlaskClient) -> None:
    response = bare.get("/static/touch.js")
    assert response.headers["Cache-Control"] == "no-cache"
    again = bare.get("/static/touch.js", headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304 and not again.data


def test_text_is_gzipped_for_a_browser_that_accepts_it(bare: FlaskClient) -> None:
    plain = bare.get("/static/touch.css")
    packed = bare.get("/static/touch.css", headers={"Accept-Encoding": "gzip, deflate"})
    assert packed.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(packed.data) == plain.data
    assert len(packed.data) < len(plain.data) / 3
    page = bare.get("/welcome", headers={"Accept-Encoding": "gzip"})
    assert (
        page.headers["Content-Encoding"] == "gzip" and page.headers["Cache-Control"] == "no-store"
    )
    assert "您好" in gzip.decompress(page.data).decode()


def test_nothing_outside_static_is_served(bare: FlaskClient) -> None:
    for path in ("/static/../app.py", "/static/%2e%2e/app.py", "/static/nope.js"):
        assert bare.get(path).status_code == 404, path


def test_every_vendored_package_carries_its_licence() -> None:
    packages = [p for p in VENDOR.iterdir() if p.is_dir()]
    assert packages
    for package in packages:
        assert (package / "LICENSE").is_file(), package
        assert re.search(r"-\d+\.\d+\.\d+$", package.name), "the version is in the folder name"


def test_the_scripts_load_nothing_from_elsewhere() -> None:
    for script in (STATIC / "touch.js", STATIC / "keyboard.js"):
        text = script.read_text()
        assert not re.search(r"""(?:import|fetch)\s*\(?\s*["'](?:https?:)?//""", text), script
    keyboard = (STATIC / "keyboard.js").read_text()
    for target in re.findall(r'"\./(vendor/[^"]+)"', keyboard):
        assert Path(STATIC / target).is_file(), target
