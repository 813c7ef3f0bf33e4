"""The shared rules of a ``config`` command: the hub and the kiosk refuse the same things."""

from __future__ import annotations

import pytest

from kiosk.protocol.pushed_config import ConfigParams, config_problem, control_character
from kiosk.touch import commands as touch_commands


def test_the_kiosk_checks_with_the_very_same_model() -> None:
    assert touch_commands.ConfigParams is ConfigParams
    assert touch_commands.config_problem is config_problem


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"services": {"social": ""}}, "services: the name of 'social' must be 1-20 characters"),
        ({"services": {"Social!": "社保"}}, "service code 'Social!' must be 1-32 of a-z 0-9 _ -"),
        ({"texts": {"welcome": "x" * 121}}, "texts: text 'welcome' must be at most 120"),
        ({"texts": {"notice": "a\r\nb"}}, "text 'notice' contains the control character U+000D"),
        ({"services": {"civil": "民政\x7f"}}, "contains the control character U+007F"),
        ({"services": {"civil": "民政\x85"}}, "contains the control character U+0085"),
        ({"texts": {"notice": "a\u2028b"}}, "contains the control character U+2028"),
        ({"services": {"civil": "\u202e政民"}}, "contains the control character U+202E"),
        ({"texts": {"footer": "hi"}}, "texts.footer"),
        ({"colour": "red"}, "colour: Extra inputs are not permitted"),
    ],
)
def test_each_refusal_says_what_is_wrong(params: dict[str, object], words: str) -> None:
    problem = config_problem(params)
    assert problem is not None and words in problem
    assert "Value error" not in problem


def test_good_configurations_pass_trimmed() -> None:
    params = {
        "services": {"social": " 社保医保（新） "},
        "texts": {"welcome": "欢迎 ", "notice": ""},
    }
    assert config_problem(params) is None
    config = ConfigParams.model_validate(params)
    assert config.services == {"social": "社保医保（新）"}
    assert config.texts == {"welcome": "欢迎", "notice": ""}
    assert control_character("全角　空格与 emoji 🙂") is None
