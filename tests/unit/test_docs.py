"""The docs' configuration examples stay true: every YAML block is a complete, valid config,
and imgflow.example.yaml shows every setting of the model (found by walking it, not listed here)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import BaseModel

from imgflow.recipes import Recipe, Watermark
from imgflow.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
EXAMPLE = ROOT / "imgflow.example.yaml"

#: fields that are not written by hand, each with the reason
NOT_WRITTEN = {
    (Recipe, "name"): "the key under `recipes:` is the name",
    (Watermark, "image"): "loaded from `image_path`",
}


def _blocks(lang: str) -> Iterator[tuple[str, str]]:
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for n, match in enumerate(re.finditer(rf"^```{lang}\n(.*?)^```", text, re.S | re.M)):
            yield f"{page.relative_to(ROOT)}#{n}", match.group(1)


YAML_BLOCKS = dict(_blocks("yaml"))


def test_the_docs_have_yaml_examples() -> None:
    assert YAML_BLOCKS, "no ```yaml block found: the extraction is broken"


@pytest.mark.parametrize("where", sorted(YAML_BLOCKS))
def test_every_yaml_example_is_a_complete_valid_config(where: str, tmp_path: Path) -> None:
    config = tmp_path / "imgflow.yaml"
    config.write_text(YAML_BLOCKS[where], encoding="utf-8")
    settings = load_settings(config, environ={})
    settings.recipe()  # the default recipe it names exists


def _fields(model: type[BaseModel], seen: set[type[BaseModel]]) -> Iterator[tuple[type[BaseModel], str]]:
    """Every field of ``model`` and of the models its fields hold (dict values, tuples, optionals)."""
    seen.add(model)
    for name, info in model.model_fields.items():
        yield model, name
        stack: list[object] = [info.annotation]
        while stack:
            tp = stack.pop()
            if isinstance(tp, type) and issubclass(tp, BaseModel):
                if tp not in seen:
                    yield from _fields(tp, seen)
            else:
                stack.extend(getattr(tp, "__args__", ()))


def test_the_example_config_shows_every_setting() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    found = list(_fields(Settings, set()))
    assert len(found) > 40  # settings, limits, recipes, renditions, watermarks
    missing = [
        f"{model.__name__}.{name}"
        for model, name in found
        if (model, name) not in NOT_WRITTEN and not re.search(rf"(^|[\s{{,#-]){name}:", text, re.M)
    ]
    assert not missing, f"imgflow.example.yaml does not show: {missing}"


def test_the_example_config_comments_out_only_real_settings() -> None:
    """The uncommented part loads (test_processing_cli); a commented-out key must be a field too, not a typo."""
    keys = re.findall(r"^\s*# ([a-z_]+):", EXAMPLE.read_text(encoding="utf-8"), re.M)
    assert {"workers", "api_token", "signing_key", "height"} <= set(keys)
    names = {name for _, name in _fields(Settings, set())}
    assert set(keys) <= names, set(keys) - names


def test_the_example_config_is_the_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """It says every value is the default: loading it changes nothing but the recipes it adds."""
    from imgflow.settings import load_settings

    monkeypatch.chdir(tmp_path)  # no imgflow.yaml of the developer's
    example = load_settings(EXAMPLE, environ={}).model_dump()
    defaults = load_settings(None, environ={}).model_dump()
    differ = {k for k in defaults if example[k] != defaults[k]} - {"recipes", "config_file"}
    assert not differ, {k: (example[k], defaults[k]) for k in differ}
    assert example["recipes"]["default"] == defaults["recipes"]["default"]
    # a value written out is not always the default: serve derives public_base_url from --port only
    # when it is unset (the example's old http://127.0.0.1:8080 broke `serve --port 9000 -c example`)
    derived = {"public_base_url"}
    loaded = load_settings(EXAMPLE, environ={})
    assert not derived & loaded.model_fields_set, derived & loaded.model_fields_set
