"""The cost model's arithmetic on hand-made prices (not the prices or the figures themselves)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bench import scale


def config(**workload: Any) -> dict[str, Any]:
    prices = {
        "lambda_gb_second_x86_64": 0.00001,
        "lambda_gb_second_arm64": 0.000008,
        "lambda_request": 0.0000002,
        "s3_put_class_request": 0.000005,
        "s3_get_class_request": 0.0000004,
        "dynamodb_write_request_unit": 0.000001,
        "dynamodb_read_request_unit": 0.0000002,
        "sqs_request": 0.0000004,
        "apigw_http_request": 0.000001,
    }
    work = {
        "processor_memory_mb": 1024,
        "api_memory_mb": 512,
        "sqs_batch_size": 5,
        "renditions": 6,
        "status_reads_per_image": 2,
        "record_kb": 2,
        "api_ms_per_request": 0,
        "io_ms_per_image": 0,
        "arm64_speed_vs_x86_64": 1.0,
    } | workload
    limits = {
        "processor_max_concurrency": 10,
        "lambda_account_concurrency": 1000,
        "s3_put_per_s_per_prefix": 3500,
        "dynamodb_new_table_wru_per_s": 4000,
        "dynamodb_table_wru_per_s": 40000,
    }
    return {"prices": {k: {"usd": v} for k, v in prices.items()}, "workload": work, "limits": limits}


def test_compute_is_seconds_times_gigabytes_times_price() -> None:
    # 1000 ms at 1 GB = 1 GB-s per image; a million images at $0.00001 = $10
    cost = scale.cost_per_million(config(), 1000.0, "x86_64")
    assert cost["processor compute"] == 10.0
    assert cost["processor invocations"] == 0.04  # one invocation per 5 images at $0.20 per million
    assert scale.cost_per_million(config(), 1000.0, "arm64")["processor compute"] == 8.0


def test_io_time_and_arm_speed_change_the_billed_seconds() -> None:
    assert scale.cost_per_million(config(io_ms_per_image=500), 1000.0, "x86_64")["processor compute"] == 15.0
    faster = config(arm64_speed_vs_x86_64=2.0)
    assert scale.cost_per_million(faster, 1000.0, "arm64")["processor compute"] == 4.0
    assert scale.cost_per_million(faster, 1000.0, "x86_64")["processor compute"] == 10.0


def test_request_lines_count_every_call_of_the_happy_path() -> None:
    cost = scale.cost_per_million(config(), 0.0, "x86_64")
    assert cost["S3 requests"] == 35.8  # 7 PUT-class x $5 + 2 GET-class x $0.40 per million
    assert cost["DynamoDB requests"] == 6.6  # 3 writes x 2 WRU x $1 + 3 reads x 1 RRU x $0.20
    assert cost["SQS requests"] == 0.56  # 1 send + (receive + delete) / 5
    assert cost["API (gateway + function)"] == 3.6  # 3 requests x ($1 + $0.20), no function time here
    assert cost["total"] == pytest.approx(sum(v for k, v in cost.items() if k != "total"))


def test_limits_are_sorted_by_the_rate_at_which_they_bind() -> None:
    rows = scale.binding_limits(config(io_ms_per_image=100), 900.0)
    assert [r["images_per_s"] for r in rows] == sorted(r["images_per_s"] for r in rows)
    assert rows[0] == {"limit": "processor MaximumConcurrency (template default)", "images_per_s": 10.0}
    rates = {r["limit"]: r["images_per_s"] for r in rows}
    assert rates["S3 PUTs per partitioned prefix (renditions/)"] == 583.3
    assert rates["DynamoDB new on-demand table, at once"] == 666.7


def test_the_doc_table_comes_from_the_prices_file_and_a_result(tmp_path: Path) -> None:
    result = {"results": [{"engine": "imgflow", "input": "20mp", "threads": 1, "cpu_median_ms": 400.0}]}
    ms = scale.measured_ms(result)
    assert ms == {"20mp": 400.0}
    text = scale.markdown(scale.load(), ms, "a test")
    assert "| 20mp | 400 + " in text
    assert text.count("| 20mp |") == 2  # x86_64 and arm64
    doc = tmp_path / "scale.md"
    doc.write_text(f"intro\n{scale.BEGIN}\nold\n{scale.END}\nafter\n")
    scale.update_doc(text, doc)
    assert doc.read_text() == f"intro\n{scale.BEGIN}\n{text}{scale.END}\nafter\n"


def test_every_price_names_its_source() -> None:
    loaded = scale.load()
    for name, price in loaded["prices"].items():
        assert price["source"], name
        assert isinstance(price["confirmed"], bool), name
        assert price["usd"] > 0, name


def test_the_newest_bench_run_is_found_among_the_other_benches_files(tmp_path: Path) -> None:
    """make bench writes bench.run's files (named by time) beside pipeline-, http-, cluster- and
    other files: bench.scale must take the newest of bench.run's, whatever sorts after it."""
    for name in ("20261205-101010.json", "20261206-212407.json", "http-20261206T211918Z.json",
                 "pipeline-20261206-212839.json", "cluster-20261206-220000.json", "webp-20261207.json"):  # fmt: skip
        (tmp_path / name).write_text("{}")
    assert scale.newest_results(tmp_path).name == "20261206-212407.json"
