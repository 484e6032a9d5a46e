"""What both harnesses share: the frameworks, the endpoints, statistics, output."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"

# module:attribute of each framework's app, relative to benchmarks/ (see apps/).
FRAMEWORKS: dict[str, str] = {
    "bare ASGI": "apps.bare:app",
    "micropie-core": "apps.core:app",
    "micropie-core + plugins": "apps.core_all_plugins:app",
    "MicroPie 0.32": "apps.micropie032:app",
    "Starlette": "apps.starlette_app:app",
    "BlackSheep": "apps.blacksheep_app:app",
}
BASELINE = "bare ASGI"
PEER = "BlackSheep"  # the fastest peer: SPEC §9 targets are ratios against it
PERCENTILES = ("p50", "p99", "p99.9")
# Server CPU time per request (µs), measured with the latencies of each HTTP round.
CPU = "cpu us"

ENDPOINTS: dict[str, tuple[str, str, bytes]] = {
    # name: (path, query string, expected body)
    "text": ("/", "", b"Hello, World!"),
    "json": ("/json", "", b'"message"'),
    "greet": ("/greet/Ann", "greeting=Hi", b"Hi, Ann!"),
}


@dataclass
class Sample:
    framework: str
    endpoint: str
    rates: list[float]
    # Per round, latency percentiles in milliseconds (HTTP runs only).
    latencies: list[dict[str, float]] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.rates)

    def latency(self, percentile: str) -> float | None:
        """The median over rounds of one latency percentile (ms), if measured."""
        values = [round_[percentile] for round_ in self.latencies if percentile in round_]
        return statistics.median(values) if values else None

    @property
    def spread(self) -> float:
        """Half the range of the rounds, as a fraction of the median."""
        return (max(self.rates) - min(self.rates)) / 2 / self.median if self.median else 0.0


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for dist in ("micropie-core", "micropie", "starlette", "blacksheep", "uvicorn"):
        try:
            found[dist] = version(dist)
        except PackageNotFoundError:
            found[dist] = "missing"
    return found


def git_revision() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=HERE,
                             capture_output=True, text=True, check=True)
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def table(samples: list[Sample], title: str) -> str:
    """A Markdown table: requests/second and the ratio to the bare ASGI app."""
    endpoints = list(dict.fromkeys(s.endpoint for s in samples))
    frameworks = list(dict.fromkeys(s.framework for s in samples))
    by_key = {(s.framework, s.endpoint): s for s in samples}
    lines = [f"### {title}", "",
             "| framework | " + " | ".join(f"{e} req/s (x bare)" for e in endpoints) + " |",
             "|---|" + "---:|" * len(endpoints)]
    for framework in frameworks:
        cells = []
        for endpoint in endpoints:
            sample = by_key.get((framework, endpoint))
            base = by_key.get((BASELINE, endpoint))
            if sample is None:
                cells.append("-")
                continue
            ratio = f" ({sample.median / base.median:.2f})" if base and base.median else ""
            cells.append(f"{sample.median:,.0f} ±{sample.spread:.0%}{ratio}")
        lines.append(f"| {framework} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def latency_table(samples: list[Sample], title: str, *, baseline: str | None = BASELINE,
                  peer: str | None = PEER) -> str:
    """Per endpoint: requests/second, ratios to the baseline and the peer, latencies."""
    endpoints = list(dict.fromkeys(s.endpoint for s in samples))
    by_key = {(s.framework, s.endpoint): s for s in samples}
    references = [name for name in (baseline, peer) if name is not None]
    lines = [f"### {title}", "",
             "| endpoint | framework | req/s | " + "".join(f"x {r} | " for r in references)
             + " | ".join(f"{p} ms" for p in PERCENTILES) + " | server CPU µs/req |",
             "|---|---|---:|" + "---:|" * (len(references) + len(PERCENTILES) + 1)]
    for endpoint in endpoints:
        for sample in (s for s in samples if s.endpoint == endpoint):
            cells = [endpoint, sample.framework, f"{sample.median:,.0f} ±{sample.spread:.0%}"]
            for reference in references:
                other = by_key.get((reference, endpoint))
                cells.append(f"{sample.median / other.median:.2f}"
                             if other and other.median else "-")
            for percentile in (*PERCENTILES, CPU):
                value = sample.latency(percentile)
                cells.append("-" if value is None else f"{value:.2f}")
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def save(kind: str, samples: list[Sample], extra: dict[str, object] | None = None) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{kind}.json"
    path.write_text(json.dumps({
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "revision": git_revision(),
        "versions": versions(),
        "samples": [{"framework": s.framework, "endpoint": s.endpoint, "rates": s.rates,
                     "latencies": s.latencies} for s in samples],
        **(extra or {}),
    }, indent=2) + "\n")
    return path


def status_kib(pid: int, field: str = "VmRSS") -> int:
    """A kB field of ``/proc/<pid>/status`` (Linux): ``VmRSS``, ``VmHWM``, ..."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/{pid}/status")
