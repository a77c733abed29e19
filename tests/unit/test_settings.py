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
        "recipes:\n  avatars:\n    renditions:\n"
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
        ("recipes:\n  x:\n    renditions: []\n", "recipes.x.renditions: a recipe needs at least one rendition"),
        (
            "recipes:\n  x:\n    renditions:\n      - {name: a, width: 10, fit: cover}\n",
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
    with pytest.raises(ConfigError, match=r"Cannot read the config file .*: no such file"):
        load_settings(tmp_path / "absent.yaml", environ={})
    with pytest.raises(ConfigError, match="it is a folder"):
        load_settings(tmp_path, environ={})


def test_recipes_add_to_the_builtin_default_and_the_key_is_the_name(tmp_path: Path) -> None:
    cfg = tmp_path / "imgflow.yaml"
    cfg.write_text("recipes:\n  web:\n    renditions:\n      - {name: large, width: 1600, format: webp}\n")
    s = load_settings(cfg, environ={})
    assert sorted(s.recipes) == ["default", "web"]
    assert s.recipe("web").name == "web"
    assert s.recipe().name == "default"
    assert len(s.recipe().renditions) == 6


def test_a_recipe_named_default_replaces_the_builtin(tmp_path: Path) -> None:
    cfg = tmp_path / "imgflow.yaml"
    cfg.write_text("recipes:\n  default:\n    renditions:\n      - {name: only, width: 10}\n")
    s = load_settings(cfg, environ={})
    assert sorted(s.recipes) == ["default"]
    assert [r.name for r in s.recipe().renditions] == ["only"]


def test_a_name_that_differs_from_its_key_is_refused(tmp_path: Path) -> None:
    cfg = tmp_path / "imgflow.yaml"
    cfg.write_text("recipes:\n  web:\n    name: other\n    renditions:\n      - {name: a, width: 10}\n")
    with pytest.raises(ConfigError, match="the recipe under 'web' is named 'other'"):
        load_settings(cfg, environ={})


def test_each_problem_is_reported_once_and_names_its_field(tmp_path: Path) -> None:
    cfg = tmp_path / "imgflow.yaml"
    cfg.write_text("recipes:\n  web:\n    renditions:\n      - {name: a, width: wide}\ndefault_recipe: web\n")
    with pytest.raises(ConfigError) as info:
        load_settings(cfg, environ={})
    text = str(info.value)
    assert text.count("Invalid setting") == 1, text  # no "at least one rendition" or default_recipe echo
    assert "recipes.web.renditions.0.width" in text
    assert f"the config file {cfg}" in text


def test_a_bad_environment_value_is_an_environment_problem(tmp_path: Path) -> None:
    cfg = tmp_path / "imgflow.yaml"
    cfg.write_text("port: 7000\nlimits: {max_pixels: 100}\n")
    with pytest.raises(ConfigError) as info:
        load_settings(cfg, environ={"IMGFLOW_LIMITS__MAX_PIXELS": "lots"})
    text = str(info.value)
    assert "in the environment: IMGFLOW_LIMITS__MAX_PIXELS (limits.max_pixels)" in text
    assert str(cfg) not in text
    with pytest.raises(ConfigError, match="in the environment: IMGFLOW_PORT"):
        load_settings(cfg, environ={"IMGFLOW_PORT": "eighty"})
    with pytest.raises(ConfigError, match="IMGFLOW_RECIPES must be JSON"):
        load_settings(cfg, environ={"IMGFLOW_RECIPES": "{not json"})
    with pytest.raises(ConfigError, match="in the command line: port"):
        load_settings(cfg, environ={}, port=-5)
