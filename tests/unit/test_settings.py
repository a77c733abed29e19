from __future__ import annotations

from pathlib import Path

import pytest

from imgflow.errors import BadRecipe, ConfigError
from imgflow.settings import load_settings


def test_defaults_carry_the_default_recipe() -> None:
    s = load_settings(environ={})
    names = [(r.name, r.width, r.format) for r in s.recipe().renditions]
    assert names == [
        ("large", 2048, "jpeg"),
        ("large", 2048, "webp"),
        ("medium", 1024, "jpeg"),
        ("medium", 1024, "webp"),
        ("thumb", 256, "jpeg"),
        ("thumb", 256, "webp"),
    ]
    assert s.limits.max_pixels == 50_000_000


def test_environment_mirrors_settings_and_overrides_beat_it() -> None:
    env = {"IMGFLOW_PORT": "9001", "IMGFLOW_LIMITS__MAX_PIXELS": "1000"}
    assert load_settings(environ=env).port == 9001
    assert load_settings(environ=env).limits.max_pixels == 1000
    assert load_settings(environ=env, port=9002).port == 9002


def test_yaml_file_and_environment(tmp_path: Path) -> None:
    cfg = tmp_path / "imgflow.yaml"
    cfg.write_text(
        "recipes:\n  avatars:\n    name: avatars\n    renditions:\n"
        "      - {name: sq, width: 128, height: 128, fit: cover, format: webp}\n"
        "default_recipe: avatars\nport: 7000\n"
    )
    s = load_settings(cfg, environ={"IMGFLOW_PORT": "7001"})
    assert s.port == 7001
    assert s.recipe().renditions[0].fit == "cover"
    with pytest.raises(BadRecipe, match="no recipe named 'nope'"):
        s.recipe("nope")


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("limits:\n  max_pixels: lots\n", "limits.max_pixels"),
        ("recipes:\n  x:\n    name: x\n    renditions: []\n", "recipes.x.renditions"),
        (
            "recipes:\n  x:\n    name: x\n    renditions:\n      - {name: a, width: 10, fit: cover}\n",
            "needs both width and height",
        ),
        ("colour: blue\n", "colour"),
        ("- a list\n", "mapping"),
        ("key: [unclosed\n", "not valid YAML"),
        ("auth: token\n", "api_token"),
    ],
)
def test_bad_config_names_the_field(tmp_path: Path, text: str, needle: str) -> None:
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_settings(cfg, environ={})
    assert needle in str(info.value)


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_settings(tmp_path / "absent.yaml", environ={})
