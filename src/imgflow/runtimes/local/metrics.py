"""Prometheus metrics in multiprocess mode: counts live in the workers (and the
server, for uploads); the queue depth is computed when ``/metrics`` is scraped.

Import this only after :func:`imgflow.runtimes.local.env.prepare_metrics_dir`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.registry import Collector

UPLOADS = Counter("imgflow_uploads_total", "Images received: direct, or presigned uploads that landed", ["path"])
PROCESSED = Counter("imgflow_processed_total", "Images processed to done")
FAILED = Counter("imgflow_failed_total", "Images that ended failed", ["code"])
EVENTS_NOT_PUBLISHED = Counter(
    "imgflow_events_not_published_total", "Image events the webhook did not take (the sweep resends them)"
)
PROCESSING_SECONDS = Histogram(
    "imgflow_processing_seconds",
    "Time a worker spent handling one job",
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0),
)

ONDEMAND = Counter("imgflow_ondemand_total", "Answers to on-demand /t/ URLs, by outcome", ["outcome"])
ONDEMAND_RENDER_SECONDS = Histogram(
    "imgflow_ondemand_render_seconds",
    "Time an on-demand render took, waiting for a renderer included",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)


def ondemand_outcome(outcome: str, render_seconds: float | None) -> None:
    ONDEMAND.labels(outcome).inc()
    if render_seconds is not None:
        ONDEMAND_RENDER_SECONDS.observe(render_seconds)


class QueueDepthCollector(Collector):
    """``imgflow_queue_depth``: jobs waiting or leased, read from the queue at scrape time."""

    def __init__(self, depth: Callable[[], dict[str, int]]) -> None:
        self._depth = depth

    def collect(self) -> Iterable[Metric]:
        family = GaugeMetricFamily("imgflow_queue_depth", "Jobs in the local queue, by state", labels=["state"])
        for state, count in sorted(self._depth().items()):
            family.add_metric([state], float(count))
        yield family


def render(depth: Callable[[], dict[str, int]]) -> tuple[bytes, str]:
    """The exposition text for one scrape: every process's counters plus the queue depth now."""
    registry = CollectorRegistry()
    MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    registry.register(QueueDepthCollector(depth))
    return generate_latest(registry), CONTENT_TYPE_LATEST


def process_exited(pid: int) -> None:
    mark_process_dead(pid)  # type: ignore[no-untyped-call]
