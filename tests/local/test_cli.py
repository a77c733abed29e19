"""The console script as a user runs it: every trouble is one line on stderr and the documented
exit code (0 all ok, 1 some input failed, 2 usage or connection problem), never a traceback."""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from local.conftest import IMGFLOW, Server, server_env
from testkit import free_port

pytestmark = [pytest.mark.e2e]

PHOTO = "edge/jpeg/hopper.jpg"


def imgflow(*args: str, cwd: Path | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(IMGFLOW), *args],
        env={**server_env(), **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def one_line(done: subprocess.CompletedProcess[str], code: int) -> str:
    assert done.returncode == code, (done.returncode, done.stdout[-2000:], done.stderr[-2000:])
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("imgflow: ")
    return lines[0]


@pytest.mark.parametrize("command", ["upload", "status"])
def test_a_server_that_is_down_is_one_line_and_exit_2(command: str, corpus: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    arg = str(corpus / PHOTO) if command == "upload" else "01ARZ3NDEKTSV4RRFFQ69G5FAV"
    line = one_line(imgflow(command, arg, "--server", url), 2)
    assert f"cannot reach {url}" in line


@pytest.mark.parametrize("command", ["upload", "status", "url", "reprocess"])
@pytest.mark.parametrize("server", ["127.0.0.1:8080", "localhost", "ftp://127.0.0.1/"])
def test_a_server_without_a_scheme_is_one_line_and_exit_2(command: str, server: str, corpus: Path) -> None:
    args = [str(corpus / PHOTO)] if command == "upload" else ["01ARZ3NDEKTSV4RRFFQ69G5FAV"]
    if command == "url":
        args += ["--width", "400"]
    line = one_line(imgflow(command, *args, "--server", server), 2)
    assert "is not a URL" in line
    assert "http://127.0.0.1:8080" in line


def test_a_bad_imgflow_server_variable_is_named_as_such() -> None:
    line = one_line(imgflow("status", "01ARZ3NDEKTSV4RRFFQ69G5FAV", IMGFLOW_SERVER="127.0.0.1:8080"), 2)
    assert line.startswith("imgflow: IMGFLOW_SERVER '127.0.0.1:8080' is not a URL")
    assert "--server" not in line
    url = f"http://127.0.0.1:{free_port()}"
    line = one_line(imgflow("status", "01ARZ3NDEKTSV4RRFFQ69G5FAV", IMGFLOW_SERVER=url), 2)
    assert f"cannot reach {url} (IMGFLOW_SERVER)" in line
    given = one_line(imgflow("status", "01ARZ3NDEKTSV4RRFFQ69G5FAV", "--server", "localhost", IMGFLOW_SERVER=url), 2)
    assert given.startswith("imgflow: --server 'localhost' is not a URL")  # the option wins, and is named


@pytest.mark.parametrize(
    ("options", "said"),
    [
        (["--width", "300", "--fit", "cover"], "--fit cover crops to a box: give both --width and --height"),
        (["--height", "300", "--fit", "cover"], "give both --width and --height"),
        (["--width", "300", "--gravity", "north"], "--gravity applies only with --fit cover"),
        (["--width", "300", "--quality", "50", "--format", "png"], "--quality does not apply to --format png"),
        (["--width", "300", "--dpr", "2.5"], "--dpr 2.5 is not one this server allows: 1, 1.5, 2, 3."),
        ([], "give --width or --height"),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, list) else "",
)
def test_url_refuses_what_the_server_would_in_the_clis_own_words(
    server: Server, corpus: Path, options: list[str], said: str
) -> None:
    image_id = json.loads(imgflow("upload", str(corpus / PHOTO), "--server", server.url).stdout)["image_id"]
    line = one_line(imgflow("url", image_id, *options, "--server", server.url), 2)
    assert said in line
    for grammar in ("HTTP", "w_", "fit_cover"):  # not the server's words
        assert grammar not in line
    for wrong in (["--fit", "fill"], ["--format", "bmp"], ["--width", "99999"]):
        done = imgflow("url", image_id, *wrong, "--server", server.url)
        assert done.returncode == 2, done.stderr
        assert wrong[0] in done.stderr
    ok = imgflow("url", image_id, "--width", "300", "--height", "200", "--fit", "cover", "--server", server.url)
    assert ok.returncode == 0, ok.stderr
    assert "/t/" in ok.stdout
    assert ",fit_cover" in ok.stdout


def test_the_url_commands_choices_are_the_servers() -> None:
    from imgflow.cli import url_cmd
    from imgflow.ondemand import options

    assert [v.value for v in url_cmd.Fit] == list(options.FITS)
    assert [v.value for v in url_cmd.Gravity] == list(options.GRAVITIES)
    assert [v.value for v in url_cmd.Format] == list(options.FORMATS)
    assert url_cmd.MAX_SIZE == options.MAX_SIZE


@pytest.mark.parametrize(
    ("argv", "code"),
    [
        (["status", "01ARZ3NDEKTSV4RRFFQ69G5FAV"], 1),  # a refused request about the image named: 1
        (["url", "01ARZ3NDEKTSV4RRFFQ69G5FAV", "--width", "400"], 1),
        (["reprocess", "01ARZ3NDEKTSV4RRFFQ69G5FAV"], 1),
        (["tag", "01ARZ3NDEKTSV4RRFFQ69G5FAV", "--add", "x"], 1),
        (["status", "01ARZ3NDEKTSV4RRFFQ69G5FAV", "--token", "wrong"], 1),  # no token needed here: still the 404
        (["list", "--limit", "0"], 2),  # usage
        (["url", "01ARZ3NDEKTSV4RRFFQ69G5FAV", "--width", "-3"], 2),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, list) else str(v),
)
def test_one_exit_code_rule_for_every_client_command(server: Server, argv: list[str], code: int) -> None:
    """1: the server refused a request about an image the user named; 2: usage, configuration, connection."""
    done = imgflow(*argv, "--server", server.url)
    assert done.returncode == code, (done.stdout, done.stderr)
    said = (
        done.stderr.startswith("imgflow:") or "Usage:" in done.stderr or '"error"' in done.stdout
    )  # reprocess: per id
    assert said, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr


def _uploads(server: Server) -> dict[str, float]:
    text = httpx.get(f"{server.url}/metrics").text
    return {m[0]: float(m[1]) for m in re.findall(r'^imgflow_uploads_total\{path="(\w+)"\} (\S+)$', text, re.M)}


def test_upload_goes_past_refused_files_and_reports_each(server: Server, corpus: Path, tmp_path: Path) -> None:
    shutil.copy(corpus / PHOTO, tmp_path / "a.jpg")
    (tmp_path / "b.bmp").write_bytes(b"BM" + b"\0" * 200)  # never decoded: refused by its magic bytes
    shutil.copy(corpus / "photos/coffee.png", tmp_path / "c.png")
    (tmp_path / "folder" / "deeper").mkdir(parents=True)
    shutil.copy(corpus / PHOTO, tmp_path / "folder" / "deeper" / "inside.dat")  # picked by its bytes
    (tmp_path / "folder" / "notes.txt").write_text("not an image")
    names = ["a.jpg", "b.bmp", "missing.jpg", "folder", "c.png"]
    done = imgflow("upload", *names, "--server", server.url, cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert "skipped 1 file" in done.stderr  # the text file of the folder: counted, not silent
    lines = [json.loads(x) for x in done.stdout.splitlines()]
    inside = str(Path("folder") / "deeper" / "inside.dat")
    assert [x["file"] for x in lines] == ["a.jpg", "b.bmp", "missing.jpg", inside, "c.png"]
    by_name = {x["file"]: x for x in lines}
    assert by_name["b.bmp"]["status"] == "refused"
    assert by_name["b.bmp"]["error"]["code"] == "unsupported_type"
    assert by_name["missing.jpg"]["error"]["code"] == "unreadable"
    for name in ("a.jpg", "c.png", inside):
        assert by_name[name]["status"] == "done"
        # every rendition: three names in two formats each
        assert len(by_name[name]["renditions"]) == 6
        assert {r.split(".")[1] for r in by_name[name]["renditions"]} == {"jpg", "webp"}  # as the URLs say
    named = imgflow("upload", "folder", "--verbose", "--no-wait", "--server", server.url, cwd=tmp_path)
    assert named.returncode == 0, named.stderr
    assert f"skipped {Path('folder') / 'notes.txt'}" in named.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "no images found" in one_line(imgflow("upload", str(empty), "--server", server.url), 2)


def test_upload_takes_the_presigned_path_above_the_direct_cap(server: Server, corpus: Path) -> None:
    big = corpus / "photos/Kleiber_by_Lukas_Baubkus.jpg"
    small = corpus / PHOTO
    assert big.stat().st_size > 4 * 1024 * 1024 > small.stat().st_size
    before = _uploads(server)
    done = imgflow("upload", str(small), str(big), "--no-wait", "--server", server.url)
    assert done.returncode == 0, done.stderr
    after = _uploads(server)
    assert after.get("direct", 0) - before.get("direct", 0) == 1
    assert after.get("presigned", 0) - before.get("presigned", 0) == 1
    forced = imgflow("upload", str(big), "--via", "direct", "--no-wait", "--server", server.url)
    assert forced.returncode == 1
    assert json.loads(forced.stdout)["error"]["code"] == "too_large"


def test_process_bad_paths(corpus: Path, tmp_path: Path) -> None:
    missing = imgflow("process", str(tmp_path / "nope.jpg"), str(corpus / PHOTO), "--out", str(tmp_path / "out"))
    assert missing.returncode == 1, missing.stderr
    assert "No such file" in missing.stdout
    assert any((tmp_path / "out" / "hopper").iterdir())
    (tmp_path / "file").write_text("x")
    line = one_line(imgflow("process", str(corpus / PHOTO), "--out", str(tmp_path / "file")), 2)
    assert "is a file, not a folder" in line
    line = one_line(imgflow("process", str(corpus / PHOTO), "--out", str(tmp_path), "--config", "absent.yaml"), 2)
    assert "absent.yaml" in line
    (tmp_path / "empty").mkdir()
    line = one_line(imgflow("process", str(tmp_path / "empty"), "--out", str(tmp_path / "out")), 2)
    assert "no images found" in line


@pytest.mark.parametrize("command", ["serve", "worker"])
def test_bad_config_stops_serve_and_worker_in_one_line(command: str, tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("port: eighty\n")
    line = one_line(imgflow(command, "--config", str(tmp_path / "bad.yaml"), "--data-dir", str(tmp_path / "d")), 2)
    assert "port" in line
    assert "bad.yaml" in line


def test_serve_on_a_busy_port_says_so_before_anything(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = imgflow("serve", "--port", str(port), "--data-dir", str(tmp_path / "d"))
    line = one_line(done, 2)
    assert f"127.0.0.1:{port}" in line
    assert "already in use" in line
    suggested = int(re.search(r"--port (\d+) \(make run PORT=(\d+)\)", line).group(1))  # type: ignore[union-attr]
    assert suggested > port
    with socket.socket() as probe:  # the suggestion is a port that was free
        probe.bind(("127.0.0.1", suggested))
    assert "serving" not in done.stdout
    assert not (tmp_path / "d").exists()


def test_the_start_up_log_names_the_settings_file_in_use(make_server: Any, tmp_path: Path) -> None:
    config = tmp_path / "mine.yaml"
    config.write_text("default_recipe: default\n", encoding="utf-8")
    with_file = make_server(args=("--config", str(config)))
    plain = make_server()
    logged = [json.loads(x) for x in with_file.log_path.read_text().splitlines() if x.startswith("{")]
    (serving,) = [x for x in logged if x["message"] == "serving"]
    assert serving["config"] == str(config.resolve())
    assert f"settings: {config.resolve()}" in with_file.log_path.read_text()
    assert "settings: no config file (defaults and IMGFLOW_* variables" in plain.log_path.read_text()
