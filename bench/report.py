"""Figures from the samples: medians, ratios, targets; as JSON, a rich table and Markdown."""

from __future__ import annotations

import statistics
from typing import Any

from bench.engines import LABELS, PEERS
from bench.harness import Series
from bench.inputs import Input

MIB = 1024.0
#: engine -> the ratio key of "that engine's median / imgflow's" (imgflow's speed-up over it)
SPEEDUPS: dict[str, str] = {
    "pillow-good": "speedup_vs_pillow_good",
    "pillow-tutorial": "speedup_vs_pillow_tutorial",
    "sharp-each": "speedup_vs_sharp_each",
    "sharp-cascade": "speedup_vs_sharp_cascade",
    "thumbor": "speedup_vs_thumbor",
}
SHORT = {
    "pillow-good": "Pillow well written",
    "pillow-tutorial": "Pillow tutorial",
    "sharp-each": "sharp per output",
    "sharp-cascade": "sharp cascade",
    "thumbor": "thumbor",
}
#: (key, description, ratio key, limit, higher is better); "faster than" a peer is a ratio above 1
TARGETS: tuple[tuple[str, str, str, float, bool], ...] = (
    ("floor", "imgflow <= 1.15x the codec floor (imgflow's codecs)", "imgflow_vs_floor", 1.15, False),
    ("pillow-good", "imgflow >= 1.4x faster than well-written Pillow", "speedup_vs_pillow_good", 1.4, True),
    ("pillow-tutorial", "imgflow >= 1.9x faster than tutorial Pillow", "speedup_vs_pillow_tutorial", 1.9, True),
    ("sharp-each", "imgflow faster than sharp, one pipeline per output", "speedup_vs_sharp_each", 1.0, True),
    ("sharp-cascade", "imgflow faster than sharp, cascade", "speedup_vs_sharp_cascade", 1.0, True),
    ("thumbor", "imgflow faster than thumbor", "speedup_vs_thumbor", 1.0, True),
)
RSS_TARGET_MIB = 100.0
RSS_TARGET_INPUT = "20mp"


def _mib(kib: Any) -> float | None:
    return round(float(kib) / MIB, 1) if isinstance(kib, int | float) and kib else None


def summarise(series: Series, item: Input, rss: dict[str, Any] | None) -> dict[str, Any]:
    row: dict[str, Any] = {"engine": series.engine, "input": series.input, "threads": series.threads}
    row["effort"] = series.effort
    row["rounds"] = len(series.ms)
    if series.ms:
        median = statistics.median(series.ms)
        row.update(
            median_ms=round(median, 1),
            min_ms=round(min(series.ms), 1),
            max_ms=round(max(series.ms), 1),
            cpu_median_ms=round(statistics.median(series.cpu_ms), 1),
            mp_per_s=round(item.megapixels / (median / 1000), 1),
        )
    row["samples_ms"] = [round(x, 1) for x in series.ms]
    row["errors"] = series.errors
    row["outputs"] = series.outputs
    row["warm_worker_peak_rss_mib"] = _mib(max(series.warm_peak_kib, default=0))
    if rss is not None:
        row["peak_rss_mib"] = _mib(rss.get("peak_kib"))
        row["peak_rss_first_run_mib"] = _mib(rss.get("peak_kib_first"))
        row["baseline_rss_mib"] = _mib(rss.get("baseline_kib"))
        row["ru_maxrss_mib"] = _mib(rss.get("ru_maxrss_kib"))
        if "error" in rss:
            row["errors"] = [*row["errors"], f"rss: {rss['error']}"]
    return row


def ratios(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by = {(r["engine"], r["input"], r["threads"]): r for r in rows}
    out = []
    for (engine, key, threads), row in by.items():
        if engine != "imgflow" or "median_ms" not in row:
            continue
        entry: dict[str, Any] = {"input": key, "threads": threads}
        ms = float(row["median_ms"])

        def other(name: str, key: str = key, threads: int = threads, field: str = "median_ms") -> float | None:
            found = by.get((name, key, threads), {}).get(field)
            return float(found) if found else None

        cpu = float(row["cpu_median_ms"])
        floor = other("floor")
        entry["imgflow_vs_floor"] = round(ms / floor, 2) if floor else None
        # The same ratios on CPU time: steadier than wall time on a loaded machine, blind to parallelism.
        floor = other("floor", field="cpu_median_ms")
        entry["cpu_imgflow_vs_floor"] = round(cpu / floor, 2) if floor else None
        for name, ratio_key in SPEEDUPS.items():
            wall, spent = other(name), other(name, field="cpu_median_ms")
            entry[ratio_key] = round(wall / ms, 2) if wall else None
            entry["cpu_" + ratio_key] = round(spent / cpu, 2) if spent else None
        entry["peak_rss_mib"] = row.get("peak_rss_mib")
        out.append(entry)
    return out


def targets(ratio_rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for engine, text, key, limit, higher in TARGETS:
        for entry in ratio_rows:
            value = entry.get(key)
            if value is None and engine in PEERS:
                continue  # a peer that is not installed has no row, not a missed target
            if value is None:
                met = None
            elif higher:
                met = value > limit if limit == 1.0 else value >= limit
            else:
                met = value <= limit
            out.append(
                {"target": text, "input": entry["input"], "threads": entry["threads"], "value": value, "met": met}
            )
    for entry in ratio_rows:
        if entry["input"] == RSS_TARGET_INPUT:
            value = entry.get("peak_rss_mib")
            met = None if value is None else value <= RSS_TARGET_MIB
            text = f"imgflow peak RSS on the 20 MP input <= {RSS_TARGET_MIB:.0f} MiB"
            out.append(
                {"target": text, "input": entry["input"], "threads": entry["threads"], "value": value, "met": met}
            )
    return out


def webp_bytes(row: dict[str, Any]) -> int:
    return sum(int(o["bytes"]) for o in row["outputs"] if o["format"] == "webp")


def effort_ratio(sweep: list[dict[str, Any]], row: dict[str, Any]) -> float | None:
    """imgflow's median over the floor's at the same effort, on imgflow's row only."""
    if row["engine"] != "imgflow" or "median_ms" not in row:
        return None
    floor = [r for r in sweep if r["engine"] == "floor" and r["effort"] == row["effort"] and "median_ms" in r]
    return round(row["median_ms"] / floor[0]["median_ms"], 2) if floor else None


def label(engine: str, meta: dict[str, Any]) -> str:
    """The engine's row label; peers carry their versions."""
    text = LABELS.get(engine, engine)
    peers = meta.get("peers", {})
    if engine.startswith("sharp") and peers.get("sharp", "absent") != "absent":
        text += f" (sharp {peers['sharp']}, libvips {peers.get('sharp_libvips', '?')}, Node {peers.get('node', '?')})"
    elif engine == "thumbor" and peers.get("thumbor", "absent") != "absent":
        text += f" (thumbor {peers['thumbor']}, Pillow {peers.get('thumbor_pillow', '?')})"
    return text


def _fmt(value: Any, suffix: str = "") -> str:
    return "-" if value is None else f"{value}{suffix}"


def _verdict(met: bool | None) -> str:
    return "not measured" if met is None else ("met" if met else "NOT met")


def markdown(result: dict[str, Any]) -> str:
    meta = result["meta"]
    lines = [
        f"Run {meta['date']} on {meta['cpu']} ({meta['cpus']} CPUs available), Python {meta['python']}, "
        f"libvips {meta['libvips']}, Pillow {meta['pillow']} (libjpeg-turbo {meta['libjpeg_turbo']}, "
        f"libwebp {meta['libwebp']}); imgflow's WebP through {meta.get('imgflow_webp', 'libvips webpsave')}. "
        f"{result['config']['rounds']} rounds; load average "
        f"{meta['load_before']} before, {meta['load_after']} after; {meta['duration_s']} s in all.",
        "",
    ]
    inputs = {i["key"]: i for i in result["inputs"]}
    for key, item in inputs.items():
        lines += [
            f"**{item['label']}** ({item['width']}x{item['height']}, {item['megapixels']} MP, {item['bytes']:,} B)",
            "",
        ]
        lines += [
            "| engine | threads | median ms | min-max ms | MP/s | CPU ms | peak RSS MiB, fresh / warm |",
            "|---|---|---|---|---|---|---|",
        ]
        for row in result["results"]:
            if row["input"] != key:
                continue
            spread = f"{_fmt(row.get('min_ms'))}-{_fmt(row.get('max_ms'))}"
            err = " (errors: " + "; ".join(row["errors"][:1]) + ")" if row["errors"] else ""
            lines.append(
                f"| {label(row['engine'], meta)}{err} | {row['threads']} | {_fmt(row.get('median_ms'))} "
                f"| {spread} | {_fmt(row.get('mp_per_s'))} | {_fmt(row.get('cpu_median_ms'))} "
                f"| {_fmt(row.get('peak_rss_mib'))} / {_fmt(row.get('warm_worker_peak_rss_mib'))} |"
            )
        lines.append("")
    lines += ["**Ratios** (medians of the same run)", ""]
    lines += ["wall-clock medians, with the same ratios of CPU-time medians in brackets", ""]
    shown = [(n, k) for n, k in SPEEDUPS.items() if any(e.get(k) is not None for e in result["ratios"])]
    lines += ["| input | threads | imgflow / floor | " + " | ".join(f"{SHORT[n]} / imgflow" for n, _ in shown) + " |"]
    lines += ["|---" * (3 + len(shown)) + "|"]
    for e in result["ratios"]:
        cells = [f"{_fmt(e.get(k))} ({_fmt(e.get('cpu_' + k))})" for _, k in shown]
        lines.append(
            f"| {e['input']} | {e['threads']} | {_fmt(e['imgflow_vs_floor'])} ({_fmt(e['cpu_imgflow_vs_floor'])}) | "
            + " | ".join(cells)
            + " |"
        )
    lines += [
        "",
        "**Targets** (judged on the wall-clock medians above)",
        "",
        "| target | input | threads | value | verdict |",
        "|---|---|---|---|---|",
    ]
    for entry in result["targets"]:
        lines.append(
            f"| {entry['target']} | {entry['input']} | {entry['threads']} | {_fmt(entry['value'])} "
            f"| {_verdict(entry['met'])} |"
        )
    if result["effort_sweep"]:
        lines += ["", "**WebP effort** (20 MP input, 1 thread; JPEG renditions unchanged)", ""]
        lines += ["| engine | WebP effort | median ms | min-max ms | CPU ms | WebP bytes (3 sizes) | imgflow / floor |"]
        lines += ["|---|---|---|---|---|---|---|"]
        for row in result["effort_sweep"]:
            lines.append(
                f"| {LABELS.get(row['engine'], row['engine'])} | {row['effort']} | {_fmt(row.get('median_ms'))} "
                f"| {_fmt(row.get('min_ms'))}-{_fmt(row.get('max_ms'))} | {_fmt(row.get('cpu_median_ms'))} "
                f"| {webp_bytes(row):,} | {_fmt(effort_ratio(result['effort_sweep'], row))} |"
            )
    return "\n".join(lines) + "\n"
