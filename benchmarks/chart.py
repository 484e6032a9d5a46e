"""Turn the saved results into ``results/chart.png`` and ``results/latest.md``.

    python chart.py
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no screen needed
import matplotlib.pyplot as plt
from common import BASELINE, RESULTS, Sample, latency_table, table

TITLES = {
    "http": "HTTP over uvicorn (1 worker), wrk from a second process",
    "inprocess": "In-process (driving the ASGI callable directly)",
}


def load(kind: str) -> tuple[dict[str, Any], list[Sample]] | None:
    path = RESULTS / f"{kind}.json"
    if not path.exists():
        return None
    data = json.loads(path.read_text())
    samples = [Sample(s["framework"], s["endpoint"], s["rates"], s.get("latencies", []))
               for s in data["samples"]]
    return data, samples


def bars(axis: Any, samples: list[Sample], value: Any, frameworks: list[str]) -> None:
    endpoints = list(dict.fromkeys(s.endpoint for s in samples))
    by_key = {(s.framework, s.endpoint): s for s in samples}
    width = 0.8 / len(frameworks)
    for index, framework in enumerate(frameworks):
        heights = [value(by_key, framework, e) for e in endpoints]
        positions = [i + (index - (len(frameworks) - 1) / 2) * width
                     for i in range(len(endpoints))]
        drawn = axis.bar(positions, heights, width, label=framework)
        axis.bar_label(drawn, fmt="%.2f", fontsize=6)
    axis.set_xticks(range(len(endpoints)), endpoints)
    axis.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=3)


def ratio(by_key: dict[tuple[str, str], Sample], framework: str, endpoint: str) -> float:
    sample, base = by_key.get((framework, endpoint)), by_key.get((BASELINE, endpoint))
    return sample.median / base.median if sample and base and base.median else 0.0


def p99(by_key: dict[tuple[str, str], Sample], framework: str, endpoint: str) -> float:
    sample = by_key.get((framework, endpoint))
    return (sample.latency("p99") or 0.0) if sample else 0.0


def draw(panels: list[tuple[str, list[Sample]]], out: Path) -> None:
    http = [samples for kind, samples in panels if kind == "http"]
    count = len(panels) + len(http)
    figure, axes = plt.subplots(1, count, figsize=(6.5 * count, 4.8), squeeze=False)
    slots = iter(axes[0])
    for kind, samples in panels:
        axis = next(slots)
        frameworks = [f for f in dict.fromkeys(s.framework for s in samples) if f != BASELINE]
        bars(axis, samples, ratio, frameworks)
        axis.axhline(1.0, color="black", linewidth=0.8, linestyle="--")
        axis.set_ylabel("requests/second ÷ bare ASGI app (higher is better)")
        axis.set_title(TITLES.get(kind, kind), fontsize=10)
    for samples in http:
        axis = next(slots)
        frameworks = list(dict.fromkeys(s.framework for s in samples))
        bars(axis, samples, p99, frameworks)
        axis.set_ylabel("p99 latency, ms (lower is better)")
        axis.set_title("HTTP p99 latency, same runs", fontsize=10)
    figure.tight_layout()
    figure.savefig(out, dpi=110)


def startup_section() -> str | None:
    path = RESULTS / "startup.json"
    if not path.exists():
        return None
    figures = json.loads(path.read_text())
    dependencies = ", ".join(f"{name} {ms:.1f}"
                             for name, ms in figures.get("dependencies_ms", {}).items())
    return (
        "### Start-up\n\n"
        f"- `import micropie_core` after `import asyncio` (what it adds under a server): "
        f"{figures.get('import_after_asyncio_ms', 0):.1f} ms "
        f"±{figures.get('import_after_asyncio_spread_ms', 0):.1f} (target <= 25 ms); "
        f"modules it pulls in, cumulative ms: {dependencies}\n"
        f"- `import micropie_core` in a fresh interpreter: {figures['import_ms']:.1f} ms "
        f"(`import asyncio` alone: {figures.get('asyncio_ms', 0):.1f} ms)\n"
        f"- `App()` with plugins [{figures['active_plugins']}]: {figures['app_ms']:.1f} ms"
    )


def gc_section() -> str | None:
    path = RESULTS / "gc.json"
    if not path.exists():
        return None
    data = json.loads(path.read_text())
    rows = [f"| {name} | {count - data['baseline']:.2f} |"
            for name, count in data["per_request"].items()]
    return ("### Cyclic garbage per steady-state request (`gc_garbage.py`)\n\n"
            "| request | objects left to the collector, over a bare ASGI app |\n|---|---:|\n"
            + "\n".join(rows))


def main() -> None:
    panels, sections = [], []
    header = "Machine: unknown"
    for kind in ("http", "inprocess"):
        loaded = load(kind)
        if loaded is None:
            continue
        data, samples = loaded
        panels.append((kind, samples))
        title = f"{TITLES[kind]} — {data['date']}"
        sections.append(latency_table(samples, title) if kind == "http"
                        else table(samples, title))
        header = (f"Machine: {data['machine']}; revision {data['revision']}; "
                  + ", ".join(f"{k} {v}" for k, v in data["versions"].items()))
    for kind in ("instructions", "instructions_http", "sessions_memory", "sessions_http"):
        path = RESULTS / f"{kind}.json"
        if path.exists():
            sections.append(json.loads(path.read_text())["report"])
    sections += [s for s in (gc_section(), startup_section()) if s]
    if not panels:
        raise SystemExit("no results yet: run inprocess.py and/or over_http.py first")
    draw(panels, RESULTS / "chart.png")
    (RESULTS / "latest.md").write_text(header + "\n\n" + "\n\n".join(sections) + "\n")
    print(f"wrote {RESULTS / 'chart.png'} and {RESULTS / 'latest.md'}")


if __name__ == "__main__":
    main()
