from __future__ import annotations

from pathlib import Path

import pytest

from kiosk.settings import SettingsError, load_settings


def test_defaults_without_a_file() -> None:
    settings = load_settings(None, env={})
    assert settings.mqtt.port == 1883 and settings.kiosk.id == "k1"


def test_file_then_environment(tmp_path: Path) -> None:
    path = tmp_path / "k.toml"
    path.write_text('[mqtt]\nport = 1999\n[kiosk]\nid = "k7"\n', encoding="utf-8")
    settings = load_settings(path, env={"KIOSK__MQTT__PORT": "2001"})
    assert settings.kiosk.id == "k7"
    assert settings.mqtt.port == 2001


def test_a_mistyped_key_fails_at_start(tmp_path: Path) -> None:
    path = tmp_path / "k.toml"
    path.write_text("[mqtt]\nprot = 1999\n", encoding="utf-8")
    with pytest.raises(SettingsError, match=r"mqtt\.prot"):
        load_settings(path, env={})


def test_rubbish_values_say_which_key(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"mqtt\.port"):
        load_settings(None, env={"KIOSK__MQTT__PORT": "lots"})


def test_unreadable_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text("[mqtt\n", encoding="utf-8")
    with pytest.raises(SettingsError, match="cannot read settings file"):
        load_settings(path, env={})
