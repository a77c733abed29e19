"""``python -m bench.scale``: what a million images cost on AWS and which limit binds first.

Inputs: ``bench/prices.yaml`` (prices with their sources, the deployment's shape, the default
limits) and the measured milliseconds per image of imgflow's processing core at one thread (one
Lambda vCPU at 1769 MB) from a ``make bench`` run (``bench/results/<timestamp>.json``, the newest by
default). Writes the tables into ``docs/scale.md`` between ``<!-- scale:begin -->`` and
``<!-- scale:end -->``.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

import yaml

from bench.inputs import ROOT

PRICES = ROOT / "bench" / "prices.yaml"
RESULTS = ROOT / "bench" / "results"
DOC = ROOT / "docs" / "scale.md"
BEGIN, END = "<!-- scale:begin -->", "<!-- scale:end -->"
MILLION = 1_000_000
ARCHES = ("x86_64", "arm64")


def load(path: Path = PRICES) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(path.read_text())
    return data


def measured_ms(results: dict[str, Any]) -> dict[str, float]:
    """imgflow's one-thread CPU-time median per input from a ``bench.run`` result: what one Lambda
    vCPU spends, unlike the wall time, which a shared benchmark machine's load inflates."""
    return {
        str(r["input"]): float(r["cpu_median_ms"])
        for r in results["results"]
        if r["engine"] == "imgflow" and r["threads"] == 1 and "cpu_median_ms" in r
    }


def requests_per_image(work: dict[str, Any]) -> dict[str, float]:
    """Billable requests of one image on the happy path (see bench/prices.yaml's workload)."""
    batch = float(work["sqs_batch_size"])
    api_calls = 1 + float(work["status_reads_per_image"])  # POST /v1/uploads, then the status reads
    record_wru = math.ceil(float(work["record_kb"]))
    record_rru = math.ceil(float(work["record_kb"]) / 4)  # strongly consistent: 1 RRU per 4 KB
    return {
        "api_requests": api_calls,
        "processor_invocations": 1 / batch,
        "s3_put_class": 1 + float(work["renditions"]),  # the upload's POST, one PUT per rendition
        "s3_get_class": 2,  # HEAD and GET of the original
        "dynamodb_wru": 3 * record_wru,  # create, claim, done
        "dynamodb_rru": (1 + float(work["status_reads_per_image"])) * record_rru,  # the event's read, the polls
        "sqs_requests": 1 + 2 / batch,  # S3's SendMessage; a receive and a delete batch per invocation
    }


def cost_per_million(config: dict[str, Any], core_ms: float, arch: str) -> dict[str, float]:
    """USD per million images, by line, for ``core_ms`` of processing per image on ``arch``."""
    price = {k: float(v["usd"]) for k, v in config["prices"].items()}
    work = config["workload"]
    speed = float(work["arm64_speed_vs_x86_64"]) if arch == "arm64" else 1.0
    seconds = (core_ms / speed + float(work["io_ms_per_image"])) / 1000
    per = requests_per_image(work)
    gb_second = price[f"lambda_gb_second_{arch}"]
    api_gb_s = per["api_requests"] * float(work["api_ms_per_request"]) / 1000 * float(work["api_memory_mb"]) / 1024
    lines = {
        "processor compute": seconds * float(work["processor_memory_mb"]) / 1024 * gb_second,
        "processor invocations": per["processor_invocations"] * price["lambda_request"],
        "API (gateway + function)": per["api_requests"] * (price["apigw_http_request"] + price["lambda_request"])
        + api_gb_s * gb_second,
        "S3 requests": per["s3_put_class"] * price["s3_put_class_request"]
        + per["s3_get_class"] * price["s3_get_class_request"],
        "DynamoDB requests": per["dynamodb_wru"] * price["dynamodb_write_request_unit"]
        + per["dynamodb_rru"] * price["dynamodb_read_request_unit"],
        "SQS requests": per["sqs_requests"] * price["sqs_request"],
    }
    out = {name: round(usd * MILLION, 2) for name, usd in lines.items()}
    out["total"] = round(sum(usd * MILLION for usd in lines.values()), 2)
    return out


def binding_limits(config: dict[str, Any], core_ms: float) -> list[dict[str, Any]]:
    """Images per second at which each default limit binds, lowest first."""
    work, limits = config["workload"], config["limits"]
    seconds = (core_ms + float(work["io_ms_per_image"])) / 1000
    wru = requests_per_image(work)["dynamodb_wru"]
    rows = [
        ("processor MaximumConcurrency (template default)", limits["processor_max_concurrency"] / seconds),
        ("Lambda account concurrency (default quota)", limits["lambda_account_concurrency"] / seconds),
        ("S3 PUTs per partitioned prefix (renditions/)", limits["s3_put_per_s_per_prefix"] / work["renditions"]),
        ("DynamoDB new on-demand table, at once", limits["dynamodb_new_table_wru_per_s"] / wru),
        ("DynamoDB table quota (default)", limits["dynamodb_table_wru_per_s"] / wru),
    ]
    return sorted(
        ({"limit": name, "images_per_s": round(rate, 1)} for name, rate in rows), key=lambda r: r["images_per_s"]
    )


def newest_results(folder: Path = RESULTS) -> Path:
    # bench.run's files are named by their time alone (20261206-212407.json); the other benches'
    # files (pipeline-, http-, cluster-, ...) sit beside them and sort after them by name
    runs = sorted(p for p in folder.glob("*.json") if p.name[:1].isdigit())
    if not runs:
        raise SystemExit(f"no bench results under {folder}: run make bench first, or pass --results")
    return runs[-1]


def markdown(config: dict[str, Any], ms: dict[str, float], source: str) -> str:
    lines = [
        f"From {source}: imgflow's CPU-time median at one thread per input; prices of {config['looked_up']} "
        "(`bench/prices.yaml`, us-east-1, no free tier).",
        "",
        "| input | ms per image (measured + I/O assumed) | arch | processor | API | S3 | DynamoDB | SQS "
        "| total per million |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    io_ms = config["workload"]["io_ms_per_image"]
    for key, core in ms.items():
        for arch in ARCHES:
            c = cost_per_million(config, core, arch)
            processor = c["processor compute"] + c["processor invocations"]
            lines.append(
                f"| {key} | {core:.0f} + {io_ms} | {arch} | ${processor:,.2f} | ${c['API (gateway + function)']:,.2f} "
                f"| ${c['S3 requests']:,.2f} | ${c['DynamoDB requests']:,.2f} | ${c['SQS requests']:,.2f} "
                f"| **${c['total']:,.2f}** |"
            )
    slowest = max(ms.values())
    lines += ["", f"Where the default limits bind ({slowest:.0f} + {io_ms} ms per image, the slowest input above):", ""]
    lines += ["| limit | binds at images/s | images/hour |", "|---|---|---|"]
    for row in binding_limits(config, slowest):
        lines.append(f"| {row['limit']} | {row['images_per_s']:,} | {row['images_per_s'] * 3600:,.0f} |")
    return "\n".join(lines) + "\n"


def update_doc(text: str, doc: Path = DOC) -> None:
    body = doc.read_text()
    head, rest = body.split(BEGIN, 1)
    doc.write_text(head + BEGIN + "\n" + text + END + rest.split(END, 1)[1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__.split("\n")[0])
    parser.add_argument("--prices", type=Path, default=PRICES)
    parser.add_argument("--results", type=Path, help="a bench.run result (default: the newest)")
    parser.add_argument("--no-docs", action="store_true")
    args = parser.parse_args(argv)
    path = args.results or newest_results()
    ms = measured_ms(json.loads(path.read_text()))
    text = markdown(load(args.prices), ms, f"the `make bench` run {path.stem}")
    print(text)
    if not args.no_docs:
        update_doc(text)


if __name__ == "__main__":
    main()
