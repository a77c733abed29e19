"""``imgflow process`` end to end, and the example config that the docs point at."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from imgflow.cli.main import app
from imgflow.settings import load_settings

ROOT = Path(__file__).resolve().parents[2]

SMALL_CONFIG = """
default_recipe: small
recipes:
  small:
    renditions:
      - {name: thumb, width: 120, height: 120, format: jpeg}
      - {name: thumb, width: 120, height: 120, format: webp}
"""


def _inputs(corpus: Path, tmp_path: Path) -> list[str]:
    names = ["photos/coffee.png", "edge/jpeg/truncated.jpg", "edge/orientation/Portrait_6.jpg"]
    paths = []
    for name in names:
        target = tmp_path / "in" / Path(name).name
        target.parent.mkdir(exist_ok=True)
        shutil.copy(corpus / name, target)
        paths.append(str(target))
    return paths


def test_process_command_keeps_going_past_a_bad_file(corpus: Path, tmp_path: Path) -> None:
    config = tmp_path / "imgflow.yaml"
    config.write_text(SMALL_CONFIG, encoding="utf-8")
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app, ["process", *_inputs(corpus, tmp_path), "--out", str(out), "--config", str(config)]
    )
    assert result.exit_code == 1, result.output
    assert sorted(p.name for p in (out / "coffee").iterdir()) == ["thumb.jpg", "thumb.webp"]
    assert sorted(p.name for p in (out / "Portrait_6").iterdir()) == ["thumb.jpg", "thumb.webp"]
    assert not (out / "truncated").exists()
    assert "corrupt_image" in result.output
    assert "corrupt or truncated" in result.output


def test_the_table_ends_with_totals_and_small_sizes_are_in_bytes(corpus: Path, tmp_path: Path) -> None:
    from imgflow.cli.process_cmd import fmt_bytes

    sizes = [fmt_bytes(n) for n in (0, 1023, 1024, 1536, 1024 * 1024)]
    assert sizes == ["0 B", "1023 B", "1.0 KiB", "1.5 KiB", "1.0 MiB"]
    config = tmp_path / "imgflow.yaml"
    config.write_text(SMALL_CONFIG, encoding="utf-8")
    tiny = corpus / "edge" / "png" / "tRNS_null_1x1.png"
    inputs = [*_inputs(corpus, tmp_path), str(tiny)]
    result = CliRunner().invoke(app, ["process", *inputs, "--out", str(tmp_path / "out"), "--config", str(config)])
    assert result.exit_code == 1, result.output
    *_, tiny_row, total = result.stdout.splitlines()
    assert tiny_row.split("\t")[3] == f"{tiny.stat().st_size} B"
    files, outcome, ms, size_in, _ = total.split("\t")
    assert (files, outcome) == (f"total ({len(inputs)} files)", f"{len(inputs) - 1} ok, 1 failed")
    rows = [line.split("\t") for line in result.stdout.splitlines()[1:-1]]
    assert int(ms) == pytest.approx(sum(float(r[2]) for r in rows), abs=len(rows))
    assert size_in == fmt_bytes(sum(Path(p).stat().st_size for p in inputs if Path(p).exists()))


def test_process_command_json_report(corpus: Path, tmp_path: Path) -> None:
    config = tmp_path / "imgflow.yaml"
    config.write_text(SMALL_CONFIG, encoding="utf-8")
    out = tmp_path / "out"
    inputs = _inputs(corpus, tmp_path)
    result = CliRunner().invoke(app, ["process", inputs[2], "--out", str(out), "--config", str(config), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    (row,) = report["results"]
    assert row["ok"] is True
    assert row["facts"]["image"]["orientation"] == 6
    renditions = row["facts"]["renditions"]
    assert [(r["width"], r["height"]) for r in renditions] == [(80, 120), (80, 120)]
    assert json.loads((out / "Portrait_6" / "facts.json").read_text(encoding="utf-8")) == row["facts"]


def test_bad_config_and_unknown_recipe_exit_2(corpus: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("limits: {max_pixels: -1}\n", encoding="utf-8")
    photo = str(corpus / "edge/jpeg/hopper.jpg")
    result = CliRunner().invoke(app, ["process", photo, "--out", str(tmp_path), "--config", str(bad)])
    assert result.exit_code == 2
    assert "max_pixels" in result.output
    good = tmp_path / "good.yaml"
    good.write_text(SMALL_CONFIG, encoding="utf-8")
    result = CliRunner().invoke(app, ["process", photo, "--out", str(tmp_path), "--config", str(good), "-r", "nope"])
    assert result.exit_code == 2
    assert "nope" in result.output


def test_example_config_loads_and_its_recipes_run(corpus: Path) -> None:
    settings = load_settings(ROOT / "imgflow.example.yaml", environ={})
    assert set(settings.recipes) == {"default", "gallery"}
    from imgflow.processing import process_image

    result = process_image((corpus / "edge/gif/chi.gif").read_bytes(), settings.recipe("gallery"), settings.limits)
    hero, square, avatar = result.renditions
    assert (hero.facts.format, hero.facts.frames) == ("webp", 31)
    assert (square.facts.width, square.facts.height) == (320, 240)  # the 400 px box clipped: no upscale
    assert (avatar.facts.width, avatar.facts.height, avatar.facts.format) == (128, 128, "avif")


def test_the_recipe_in_docs_processing_md_runs(corpus: Path) -> None:
    import yaml

    from imgflow.processing import process_image
    from imgflow.recipes import Limits, Recipe

    text = (ROOT / "docs" / "processing.md").read_text(encoding="utf-8")
    block = text.split("```yaml\n", 1)[1].split("```", 1)[0]
    recipe = Recipe.model_validate(yaml.safe_load(block)["recipes"]["web"])
    result = process_image((corpus / "photos/coffee.png").read_bytes(), recipe, Limits())
    sizes = {r.facts.name: (r.facts.width, r.facts.height) for r in result.renditions}
    assert sizes == {"large": (600, 400), "card": (600, 400), "icon": (64, 64)}


def _console(*args: str) -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).parent / "imgflow"
    return subprocess.run([str(script), *args], capture_output=True, text=True, timeout=120, check=False)


def test_same_stems_never_share_an_output_folder(corpus: Path, tmp_path: Path) -> None:
    for folder, name in (("a", "photos/coffee.png"), ("b", "edge/jpeg/hopper.jpg")):
        (tmp_path / "in" / folder).mkdir(parents=True)
        shutil.copy(corpus / name, tmp_path / "in" / folder / f"pic{Path(name).suffix}")
    out = tmp_path / "out"
    done = _console("process", str(tmp_path / "in/a/pic.png"), str(tmp_path / "in/b/pic.jpg"), "--out", str(out))
    assert done.returncode == 0, done.stderr
    for folder in ("a/pic", "b/pic"):
        assert sorted(p.name for p in (out / folder).iterdir())[:2] == ["large.jpg", "large.webp"], folder
    assert not (out / "pic").exists()


def test_output_folders_rules(tmp_path: Path) -> None:
    from imgflow.cli.process_files import output_folders

    out = Path("out")
    unique = [tmp_path / "x/one.png", tmp_path / "y/two.jpg"]
    assert output_folders(unique, out) == {unique[0]: out / "one", unique[1]: out / "two"}
    clash = [tmp_path / "x/pic.png", tmp_path / "x/deep/pic.png", tmp_path / "x/pic.jpg"]
    assert output_folders(clash, out) == {
        clash[0]: out / "pic_png",
        clash[1]: out / "deep/pic",
        clash[2]: out / "pic_jpg",
    }


def test_a_folder_is_searched_for_images_and_processed_in_parallel(corpus: Path, tmp_path: Path) -> None:
    tree = tmp_path / "photos"
    (tree / "2024" / "may").mkdir(parents=True)
    (tree / ".cache").mkdir()
    shutil.copy(corpus / "photos/coffee.png", tree / "coffee.png")
    shutil.copy(corpus / "edge/jpeg/hopper.jpg", tree / "2024" / "hopper.JPG")
    shutil.copy(corpus / "edge/orientation/Portrait_6.jpg", tree / "2024" / "may" / "portrait.jpeg")
    shutil.copy(corpus / "edge/jpeg/hopper.jpg", tree / ".cache" / "hidden.jpg")
    (tree / "notes.txt").write_text("not an image")
    out = tmp_path / "out"
    done = _console("process", str(tree), "--out", str(out), "--json", "--jobs", "2")
    assert done.returncode == 0, done.stderr
    files = [Path(row["file"]).name for row in json.loads(done.stdout)["results"]]
    assert sorted(files) == ["coffee.png", "hopper.JPG", "portrait.jpeg"]
    assert sorted(p.name for p in out.iterdir()) == ["coffee", "hopper", "portrait"]
    assert all(len(list((out / name).glob("*.webp"))) == 3 for name in ("coffee", "hopper", "portrait"))


def test_a_folder_is_picked_by_magic_bytes_and_nothing_is_skipped_in_silence(corpus: Path, tmp_path: Path) -> None:
    tree = tmp_path / "mixed"
    tree.mkdir()
    shutil.copy(corpus / "edge/jpeg/sugarshack.mpo", tree / "stereo.mpo")  # a JPEG by its bytes
    shutil.copy(corpus / "edge/jpeg/hopper.jpg", tree / "exported.dat")  # a JPEG with any extension
    shutil.copy(corpus / "edge/bmp/hopper.bmp", tree / "scan.bmp")  # an image, not an accepted format
    (tree / "notes.txt").write_text("not an image")
    out = tmp_path / "out"
    done = _console("process", str(tree), "--out", str(out), "--json", "--jobs", "1")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert sorted(Path(row["file"]).name for row in report["results"]) == ["exported.dat", "stereo.mpo"]
    assert {Path(s["file"]).name: s["reason"] for s in report["skipped"]} == {
        "notes.txt": "not an image format imgflow recognises (by its first bytes)",
        "scan.bmp": "BMP: not a format accepted here (limits.accept)",
    }
    table = _console("process", str(tree), "--out", str(tmp_path / "out2"), "--jobs", "1")
    assert table.returncode == 0, table.stderr
    assert "imgflow: skipped 2 files of the folders that are not images accepted here" in table.stderr
    named = _console("process", str(tree), "--out", str(tmp_path / "out3"), "--jobs", "1", "--verbose")
    assert f"imgflow: skipped {tree / 'scan.bmp'}: BMP: not a format accepted here" in named.stderr
