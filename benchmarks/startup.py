"""Start-up costs: ``import micropie_core`` and ``App()`` with every plugin installed.

Each measurement runs in a fresh interpreter (imports are cached per process),
with bytecode caches written first; the median of ``--runs`` is reported.
``import`` time is the difference between ``python -c "import micropie_core"``
and ``python -c "pass"``, so interpreter start-up is not counted.

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
        after_asyncio.append(interpreter_seconds("import asyncio, micropie_core"))
        out = subprocess.run([sys.executable, "-c", APP_PROBE], check=True, env=ENV,
                             capture_output=True, text=True).stdout.split()
        constructed.append(float(out[0]))
        plugins = out[1] if len(out) > 1 else ""
    return {
        "import_ms": (statistics.median(imported) - statistics.median(empty)) * 1000,
        "asyncio_ms": (statistics.median(with_asyncio) - statistics.median(empty)) * 1000,
        "import_after_asyncio_ms":
            (statistics.median(after_asyncio) - statistics.median(with_asyncio)) * 1000,
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
          f"{figures['import_after_asyncio_ms']:.1f} ms")
    print(f"- `App()` with plugins [{figures['active_plugins']}], discovery included: "
          f"{figures['app_ms']:.1f} ms (target < 100 ms)")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "startup.json").write_text(json.dumps(figures, indent=2) + "\n")
