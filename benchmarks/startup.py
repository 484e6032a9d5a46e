"""Start-up costs: ``import micropie_core`` and ``App()`` with every plugin installed.

Each measurement runs in a fresh interpreter (imports are cached per process),
with bytecode caches written first; the median of ``--runs`` is reported.
``import`` time is the difference between ``python -c "import micropie_core"``
and ``python -c "pass"``, so interpreter start-up is not counted. What the core
adds once ``asyncio`` is imported (as it always is under an ASGI server) is
timed inside the interpreter (``perf_counter`` around the import), which is far
less noisy than a difference of two process times, and broken down by the
third-party and standard-library modules it pulls in (``-X importtime``).

    python startup.py [--runs 15]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

from common import RESULTS

APP_PROBE = """
import time
from micropie_core import App
class Root(App):
    async def index(self):
        return "hi"
start = time.perf_counter()
app = Root()
elapsed = time.perf_counter() - start
print(elapsed, ",".join(app.plugins.active_names()))
"""


AFTER_ASYNCIO_PROBE = """
import asyncio, time
start = time.perf_counter()
import micropie_core
print(time.perf_counter() - start)
"""


def breakdown() -> list[tuple[str, float]]:
    """What ``import micropie_core`` pulls in after asyncio: each outermost
    non-micropie module (a dependency or a stdlib module), with its cumulative ms."""
    err = subprocess.run([sys.executable, "-X", "importtime", "-c",
                          "import asyncio; import micropie_core"],
                         check=True, env=ENV, capture_output=True, text=True).stderr
    rows = [line.split("|") for line in err.splitlines() if line.startswith("import time:")]
    start = max(i for i, row in enumerate(rows) if row[2].strip() == "asyncio")
    found: list[tuple[str, float]] = []
    parents: list[tuple[int, str]] = []  # -X importtime prints children before parents
    for _, cumulative, name in reversed(rows[start + 1:]):
        indent = len(name) - len(name.lstrip())
        while parents and parents[-1][0] >= indent:
            parents.pop()
        module = name.strip()
        inside_dependency = any(not n.startswith("micropie_core") for _, n in parents)
        if not module.startswith("micropie_core") and not inside_dependency:
            found.append((module, int(cumulative) / 1000))
        parents.append((indent, module))
    return sorted(found, key=lambda item: -item[1])


# Bytecode is cached in a real installation (pip compiles it); some shells set
# PYTHONDONTWRITEBYTECODE, which would make every run compile from source.
ENV = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}


def interpreter_seconds(code: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, env=ENV)
    return time.perf_counter() - start


def main(runs: int) -> dict[str, object]:
    empty, imported, constructed = [], [], []
    with_asyncio, after_asyncio = [], []
    plugins = ""
    subprocess.run([sys.executable, "-c", APP_PROBE], check=True, env=ENV,
                   capture_output=True)  # writes the bytecode caches
    for _ in range(runs):  # interleaved, like every other measurement here
        empty.append(interpreter_seconds("pass"))
        imported.append(interpreter_seconds("import micropie_core"))
        # Under any ASGI server asyncio is already imported; this is what we add.
        with_asyncio.append(interpreter_seconds("import asyncio"))
        after_asyncio.append(float(subprocess.run(
            [sys.executable, "-c", AFTER_ASYNCIO_PROBE], check=True, env=ENV,
            capture_output=True, text=True).stdout))
        out = subprocess.run([sys.executable, "-c", APP_PROBE], check=True, env=ENV,
                             capture_output=True, text=True).stdout.split()
        constructed.append(float(out[0]))
        plugins = out[1] if len(out) > 1 else ""
    return {
        "import_ms": (statistics.median(imported) - statistics.median(empty)) * 1000,
        "asyncio_ms": (statistics.median(with_asyncio) - statistics.median(empty)) * 1000,
        "import_after_asyncio_ms": statistics.median(after_asyncio) * 1000,
        "import_after_asyncio_spread_ms":
            (max(after_asyncio) - min(after_asyncio)) / 2 * 1000,
        "dependencies_ms": dict(breakdown()[:12]),
        "app_ms": statistics.median(constructed) * 1000,
        "active_plugins": plugins,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=15)
    figures = main(parser.parse_args().runs)
    print("### Start-up\n")
    print(f"- `import micropie_core`: {figures['import_ms']:.1f} ms (target < 50 ms), of which "
          f"`import asyncio` alone is {figures['asyncio_ms']:.1f} ms; after asyncio: "
          f"{figures['import_after_asyncio_ms']:.1f} ms "
          f"±{figures['import_after_asyncio_spread_ms']:.1f} (target <= 25 ms)")
    print("- of which these modules (cumulative, one -X importtime run): " + ", ".join(
        f"{name} {ms:.1f} ms" for name, ms in figures["dependencies_ms"].items()))
    print(f"- `App()` with plugins [{figures['active_plugins']}], discovery included: "
          f"{figures['app_ms']:.1f} ms (target < 100 ms)")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "startup.json").write_text(json.dumps(figures, indent=2) + "\n")
