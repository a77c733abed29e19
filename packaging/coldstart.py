"""`make coldstart`: how long the Lambda handlers take to import from the built artefacts.

    python packaging/coldstart.py [--wheelhouse DIR] [--runs N]

Builds the x86_64 artefacts (build/api, build/processor and their zips), puts the
runtime's boto3 beside them (as the Lambda runtime has it), then starts N fresh CPython
3.12 interpreters per handler, each timing ``import <handler module>`` alone, and, for
the API, the first request too (``GET /healthz``: the wiring built, the app answering); for
the on-demand transform function (the processor's artefact) the first request is a ``/t/`` URL
with a wrong signature: its wiring is built (the image engine loaded, the clients made, the keys
taken from the environment here instead of Secrets Manager) and it answers 403 with no AWS call.
Prints medians and the artefacts' sizes. Figures, not a test: they depend on the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import package

HANDLERS = {
    "api": ("api", "imgflow.runtimes.aws.api_handler"),
    "processor": ("processor", "imgflow.runtimes.aws.processor"),
    "reconciler": ("api", "imgflow.runtimes.aws.reconciler"),
    "transform": ("processor", "imgflow.runtimes.aws.transform"),
}
#: each handler's first request (path, expected status); the others are timed importing only
FIRST_REQUEST = {
    "imgflow.runtimes.aws.api_handler": ("/healthz", 200),
    "imgflow.runtimes.aws.transform": ("/t/AAAAAAAAAAAAAAAAAAAAAA/w_320/01M95R4MJGPXS3WX68A25GSZ5A/1", 403),
}

PROBE = """
import json, sys, time
started, cpu = time.perf_counter(), time.process_time()
import importlib
module = importlib.import_module(sys.argv[1])
imported, imported_cpu = time.perf_counter() - started, time.process_time() - cpu
first = first_cpu = None
if sys.argv[2] != "-":
    path = sys.argv[2]
    event = {
        "version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": "",
        "headers": {"host": "api.example"}, "isBase64Encoded": False,
        "requestContext": {"http": {"method": "GET", "path": path, "protocol": "HTTP/1.1",
                           "sourceIp": "192.0.2.1", "userAgent": "coldstart"}, "stage": "$default",
                           "requestId": "r", "routeKey": "$default", "accountId": "123456789012",
                           "apiId": "a", "domainName": "api.example", "domainPrefix": "api",
                           "time": "01/Jan/2026:00:00:00 +0000", "timeEpoch": 0},
    }
    response = module.handler(event, None)
    assert response["statusCode"] == int(sys.argv[3]), response
    first, first_cpu = time.perf_counter() - started, time.process_time() - cpu
figures = {"import": imported, "import_cpu": imported_cpu, "first_request": first, "first_request_cpu": first_cpu}
print(json.dumps(figures))
"""

ENVIRONMENT = {
    "IMGFLOW_BACKEND": "aws",
    "IMGFLOW_AWS_REGION": "eu-west-1",
    "IMGFLOW_UPLOADS_BUCKET": "uploads",
    "IMGFLOW_RENDITIONS_BUCKET": "renditions",
    "IMGFLOW_TABLE_NAME": "images",
    "IMGFLOW_QUEUE_URL": "https://sqs.eu-west-1.amazonaws.com/123456789012/uploads",
    "IMGFLOW_AUTH": "none",
    "AWS_ACCESS_KEY_ID": "coldstart",
    "AWS_SECRET_ACCESS_KEY": "coldstart",
    "AWS_LAMBDA_FUNCTION_NAME": "coldstart",
    "IMGFLOW_ONDEMAND__KEYS": '["coldstart-key-0123456789"]',
}


def measure(python: str, path: str, module: str, request: bool, runs: int, cwd: Path) -> dict[str, float]:
    """``request``: time the module's first request too (see FIRST_REQUEST)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "IMGFLOW_", "AWS_"))}
    # /var/task is read-only on Lambda: nothing the import compiles is kept for the next cold start
    env.update(ENVIRONMENT, PYTHONPATH=path, PYTHONDONTWRITEBYTECODE="1")
    samples: dict[str, list[float]] = {}
    for _ in range(runs):
        first, status = FIRST_REQUEST[module] if request else ("-", 0)
        cmd = [python, "-s", "-c", PROBE, module, first, str(status)]
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=cwd, timeout=120)
        if proc.returncode != 0:
            raise SystemExit(f"{module} failed:\n{proc.stderr[-3000:]}")
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        for key, value in result.items():
            if value is not None:
                samples.setdefault(key, []).append(value)
    return {k: statistics.median(v) for k, v in samples.items() if v}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--wheelhouse", type=Path, help="build offline from this wheelhouse")
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args(argv)
    wheelhouse = args.wheelhouse.resolve() if args.wheelhouse else None
    build = package.ROOT / "build"
    for target in ("api", "processor"):
        package.build(target, "x86_64", build / target, build / f"{target}.zip", wheelhouse)
    sdk = build / "sdk"
    if not (sdk / "boto3").is_dir():
        package.install_sdk(wheelhouse, sdk)
    python = package.lambda_python()
    print(f"\nimport times, median of {args.runs} fresh interpreters ({python}):")
    print("  (wall / CPU seconds; Lambda gives a function CPU in proportion to its memory: 1769 MB = 1 vCPU)")
    with tempfile.TemporaryDirectory(prefix="imgflow-coldstart-") as tmp:
        # the API's artefact without its bytecode: what a zip with timestamp-checked .pyc files costs
        sources_only = Path(tmp) / "api-sources-only"
        shutil.copytree(build / "api", sources_only, ignore=shutil.ignore_patterns("__pycache__"))
        runs = [(name, target, module, build / target) for name, (target, module) in HANDLERS.items()]
        runs.append(("api, no .pyc", "api", HANDLERS["api"][1], sources_only))
        for name, _, module, folder in runs:
            figures = measure(python, f"{folder}:{sdk}", module, module in FIRST_REQUEST, args.runs, Path(tmp))
            line = f"  {name:<13} import {figures['import']:.3f} / {figures['import_cpu']:.3f}"
            if "first_request" in figures:
                first = "GET /healthz" if module.endswith("api_handler") else "a /t/ URL, 403"
                line += f"; import + first request ({first}) {figures['first_request']:.3f}"
                line += f" / {figures['first_request_cpu']:.3f}"
            print(line)
    print("artefacts (x86_64):")
    for target in ("api", "processor"):
        unzipped, zipped = package.tree_size(build / target), (build / f"{target}.zip").stat().st_size
        print(f"  {target:<10} {package.mib(unzipped)} unzipped, {package.mib(zipped)} zipped")


if __name__ == "__main__":
    main()
