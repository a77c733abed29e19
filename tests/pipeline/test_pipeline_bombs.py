"""Decompression bombs through the whole pipeline, in a worker process under a hard memory cap.

A child process limits its own address space (RLIMIT_AS), builds the real local wiring, takes
every bomb the way an upload arrives and handles its event, then makes a good photo: the bombs
end ``failed`` (or refused at the door) and the same worker is still alive and working.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from imgflow.runtimes.local.env import WORKER_ENV
from processing.corpus_expected import EXPECTED

LIMIT_MB = 768
HERE = Path(__file__).resolve().parent

SNIPPET = """
import json, resource, sys
limit = int(sys.argv[1]) * 1024 * 1024
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
from pathlib import Path
from imgflow.errors import ImgflowError
from pipeline_kit import arrive, make_service, presigned_arrive
svc = make_service(Path(sys.argv[2]))
report = {}
for path in sys.argv[3:]:
    data = Path(path).read_bytes()
    entry = {}
    try:
        record = arrive(svc, data, filename=Path(path).name, content_type="image/jpeg")
    except ImgflowError as exc:
        entry["refused"] = exc.code
        # the presigned route lets the bytes in under a declared type; the worker must refuse them
        record = presigned_arrive(svc, data, filename=Path(path).name, content_type="image/jpeg")
    outcome = svc.handle_object_created(record.key)
    final = svc.get("local", record.image_id)
    entry.update(
        outcome=outcome.kind,
        status=final.status,
        code=final.error.code if final.error else None,
        message=final.error.message if final.error else None,
        original_kept=svc.originals.get(record.key, max_bytes=len(data) + 1) == data,
        renditions_left=len(list(svc.renditions.list("renditions/" + record.image_id + "/"))),
    )
    report[Path(path).name] = entry
print(json.dumps(report))
"""

#: their expected codes come from the shared corpus table
BOMBS = (
    "edge/gif/decompression_bomb.gif",
    "edge/gif/decompression_bomb_extents.gif",
    "edge/heif-avif/17000x17000.avif",
    "edge/bmp/reallybig.bmp",
)
GOOD = "photos/Dragonfly_by_Bolly.jpg"


def test_bombs_fail_in_a_bounded_worker_that_keeps_working(corpus: Path, tmp_path: Path) -> None:
    paths = [str(corpus / name) for name in [*BOMBS, GOOD]]
    env = {
        **os.environ,
        **WORKER_ENV,  # as a worker runs: the allocator set by the engine
        "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
    }
    done = subprocess.run(
        [sys.executable, "-c", SNIPPET, str(LIMIT_MB), str(tmp_path / "data"), *paths],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    for name in BOMBS:
        code = EXPECTED[name]
        assert code in ("too_many_pixels", "unsupported_type")
        entry = report[Path(name).name]
        assert (entry["outcome"], entry["status"], entry["code"]) == ("failed", "failed", code), entry
        assert entry["message"]
        assert entry["original_kept"] is True
        assert entry["renditions_left"] == 0
    assert report["reallybig.bmp"]["refused"] == "unsupported_type"  # 415 on the direct route
    assert "refused" not in report["17000x17000.avif"]
    good = report[Path(GOOD).name]
    assert (good["outcome"], good["status"], good["code"]) == ("done", "done", None)
    assert good["original_kept"] is True
    assert good["renditions_left"] == 2
