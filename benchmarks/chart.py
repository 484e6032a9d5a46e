"""Turn the saved results into ``results/chart.png`` and ``results/latest.md``.

    python chart.py
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no screen needed
import matplotlib.pyplot as plt
from common import BASELINE, RESULTS, Sample, table

TITLES = {
    "http": "HTTP over uvicorn (1 worker), wrk from a second process",
    "inprocess": "In-process (driving the ASGI callable directly)",
}


def load(kind: str) -> tuple[dict[str, object], list[Sample]] | None:
    path = RESULTS / f"{kind}.json"
    if not path.exists():
        return None
    data = json.loads(path.read_text())
    samples = [Sample(s["framework"], s["endpoint"], s["rates"], s.get("latencies", []))
               for s in data["samples"]]
    return data, samples


def draw(panels: list[tuple[str, list[Sample]]], out: Path) -> None:
    figure, axes = plt.subplots(1, len(panels), figsize=(6.5 * len(panels), 4.8), squeeze=False)
    for axis, (kind, samples) in zip(axes[0], panels, strict=True):
        endpoints = list(dict.fromkeys(s.endpoint for s in samples))
        frameworks = [f for f in dict.fromkeys(s.framework for s in samples) if f != BASELINE]
        by_key = {(s.framework, s.endpoint): s for s in samples}
        width = 0.8 / len(frameworks)
        for index, framework in enumerate(frameworks):
            ratios = [by_key[(framework, e)].median / by_key[(BASELINE, e)].median
                      if (framework, e) in by_key and (BASELINE, e) in by_key else 0.0
                      for e in endpoints]
            positions = [i + (index - (len(frameworks) - 1) / 2) * width
                         for i in range(len(endpoints))]
            bars = axis.bar(positions, ratios, width, label=framework)
            axis.bar_label(bars, fmt="%.2f", fontsize=7)
        axis.axhline(1.0, color="black", linewidth=0.8, linestyle="--")
        axis.set_xticks(range(len(endpoints)), endpoints)
        axis.set_ylabel("requests/second ÷ bare ASGI app")
        axis.set_title(TITLES.get(kind, kind), fontsize=10)
        axis.set_ylim(0, 1.15)
        axis.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=3)
    figure.tight_layout()
    figure.savefig(out, dpi=110)


def main() -> None:
    panels, sections = [], []
    for kind in ("http", "inprocess"):
        loaded = load(kind)
        if loaded is None:
            continue
        data, samples = loaded
        panels.append((kind, samples))
        sections.append(table(samples, f"{TITLES[kind]} — {data['date']}"))
        header = (f"Machine: {data['machine']}; revision {data['revision']}; "
                  + ", ".join(f"{k} {v}" for k, v in data["versions"].items()))
    startup = RESULTS / "startup.json"
    if startup.exists():
        figures = json.loads(startup.read_text())
        sections.append(
            "### Start-up\n\n"
            f"- `import micropie_core`: {figures['import_ms']:.1f} ms "
            f"(`import asyncio` alone: {figures.get('asyncio_ms', 0):.1f} ms; "
            f"micropie_core after asyncio: {figures.get('import_after_asyncio_ms', 0):.1f} ms)\n"
            f"- `App()` with plugins [{figures['active_plugins']}]: {figures['app_ms']:.1f} ms"
        )
    if not panels:
        raise SystemExit("no results yet: run inprocess.py and/or over_http.py first")
    draw(panels, RESULTS / "chart.png")
    (RESULTS / "latest.md").write_text(header + "\n\n" + "\n\n".join(sections) + "\n")
    print(f"wrote {RESULTS / 'chart.png'} and {RESULTS / 'latest.md'}")


if __name__ == "__main__":
    main()
