"""``make mutate``'s runner on a tree of its own: caught, survived and stale mutants, files restored
(after a kill too), and the repository's own list in shape."""

from __future__ import annotations

from pathlib import Path

from bench import mutate

MODULE = "def double(x):\n    return x * 2\n"
TEST = "from mod import double\n\n\ndef test_double():\n    assert double(3) == 6\n"


def _tree(tmp_path: Path) -> Path:
    (tmp_path / "mod.py").write_text(MODULE)
    (tmp_path / "test_mod.py").write_text(TEST)
    return tmp_path


def _mutant(original: str, replacement: str) -> mutate.Mutant:
    return mutate.Mutant(id="m", file="mod.py", original=original, replacement=replacement, tests=("test_mod.py",))


def test_caught_survived_and_stale(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    before = (root / "mod.py").stat().st_mtime_ns
    caught = mutate.run_one(_mutant("x * 2", "x * 3"), 0, 60, root=root)
    assert (caught.verdict, caught.detail.split("; by ")[-1]) == ("caught", "test_mod.py::test_double")
    survived = mutate.run_one(_mutant("x * 2", "x + x"), 1, 60, root=root)  # an equivalent mutant
    assert survived.verdict == "survived"
    stale = mutate.run_one(_mutant("x * 4", "x"), 2, 60, root=root)
    assert (stale.verdict, stale.detail) == ("stale", "`original` found 0 times in mod.py")
    assert (root / "mod.py").read_text() == MODULE
    assert (root / "mod.py").stat().st_mtime_ns == before
    assert not any((root / mutate.BACKUP).rglob("*.py"))


def test_a_killed_run_is_recovered(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    path = root / "mod.py"
    planted = mutate.Planted(root, path, path.read_bytes(), path.stat())
    planted.plant(b"def double(x):\n    return 0\n", 0)  # then the runner is killed: no restore
    assert path.read_text() != MODULE
    assert mutate.recover(root) == [path]
    assert path.read_text() == MODULE
    assert not (root / mutate.BACKUP).exists()


def test_the_repository_list_applies() -> None:
    mutants = mutate.load()
    assert len([m for m in mutants if m.listed]) == 12
    assert len(mutants) >= 42
    for m in mutants:
        text = (mutate.ROOT / m.file).read_text()
        assert text.count(m.original) == 1, m.id
        assert m.original != m.replacement, m.id
        assert all((mutate.ROOT / t.split("::")[0]).exists() for t in m.tests if t.startswith("tests/")), m.id
