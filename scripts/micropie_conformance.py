"""Run MicroPie 0.32's own test suite against this checkout (see docs/coming_from_micropie.md).

The MicroPie sdist is downloaded with pip at run time into a temporary folder;
nothing of MicroPie is kept in this repository. Its ``tests.py`` is copied with
only the ``from micropie import (...)`` block rewritten to import the same names
from ``micropie_core`` (WebSocket names from ``micropie_ws``), then run with
unittest. The script prints ``N/75 pass`` and, for every failing test, the row
of docs/coming_from_micropie.md (or the MicroPie internal API) that explains it.
Exit status: 0 when every failure is explained, 1 otherwise, 2 when the sdist
could not be downloaded.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import re
import signal
import subprocess
import sys
import tarfile
import tempfile
import tomllib
import unittest
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "coming_from_micropie.md"
EXPLANATIONS = Path(__file__).with_name("micropie_conformance.toml")
VERSION = "0.32"
EXPECTED_TESTS = 75
TEST_TIMEOUT = 10
#: Names MicroPie exports from one module that live in the WebSocket plugin here.
WS_NAMES = {"WebSocket", "WebSocketRequest", "WebSocketMiddleware", "ConnectionClosed"}
_IMPORT_BLOCK = re.compile(r"^from micropie import \(\n(?P<names>.*?)^\)\n", re.M | re.S)


def download_sdist(dest: Path) -> Path:
    """The extracted micropie sdist folder (``pip download --no-binary``), in ``dest``."""
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
         "--no-deps", "--no-binary", ":all:", f"micropie=={VERSION}", "-d", str(dest)],
        check=True,
    )
    (archive,) = dest.glob(f"micropie-{VERSION}.tar.gz")
    with tarfile.open(archive) as tar:
        tar.extractall(dest, filter="data")
    return dest / f"micropie-{VERSION}"


def rewrite_imports(source: str) -> str:
    """``tests.py`` with its ``from micropie import (...)`` block pointed at this checkout."""
    match = _IMPORT_BLOCK.search(source)
    if match is None:
        raise SystemExit("MicroPie's tests.py has no `from micropie import (...)` block; "
                         "the script needs updating for this MicroPie version.")
    names = [n.strip() for n in match["names"].replace("\n", " ").split(",") if n.strip()]
    core = [n for n in names if n not in WS_NAMES]
    ws = [n for n in names if n in WS_NAMES]
    block = f"from micropie_core import {', '.join(core)}\n"
    if ws:
        block += f"from micropie_ws import {', '.join(ws)}\n"
    return source[: match.start()] + block + source[match.end():]


def _doc_rows() -> dict[str, str]:
    """Rows of the tables in the doc, keyed by their first cell."""
    rows = {}
    for line in DOC.read_text(encoding="utf-8").splitlines():
        if line.startswith("|") and not line.startswith("|---"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if cells and cells[0]:
                rows[cells[0]] = line.strip()
    return rows


def explanation(reason: str, rows: dict[str, str]) -> str | None:
    """The doc row (or internal API note) a ``reason`` from the TOML file names."""
    kind, _, key = reason.partition(":")
    key = key.strip()
    if kind == "internal":
        return f"internal API of MicroPie: {key}"
    if kind == "row":
        found = [row for first, row in rows.items() if key in first]
        if len(found) == 1:
            return f"docs/coming_from_micropie.md: {found[0]}"
    return None


class _Timeout(Exception):
    """A test ran longer than TEST_TIMEOUT seconds."""


def _alarm(signum: int, frame: object) -> None:
    raise _Timeout(f"the test ran longer than {TEST_TIMEOUT} s")


class _Result(unittest.TextTestResult):
    """Records each test's outcome; a test that hangs is stopped after TEST_TIMEOUT s."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.outcomes: dict[str, str] = {}

    def startTest(self, test: unittest.TestCase) -> None:
        super().startTest(test)
        signal.signal(signal.SIGALRM, _alarm)
        signal.alarm(TEST_TIMEOUT)

    def stopTest(self, test: unittest.TestCase) -> None:
        signal.alarm(0)
        super().stopTest(test)

    def _name(self, test: unittest.TestCase) -> str:
        return test.id().rpartition(".")[2]

    def addSuccess(self, test: unittest.TestCase) -> None:
        super().addSuccess(test)
        self.outcomes.setdefault(self._name(test), "pass")

    def addFailure(self, test: unittest.TestCase, err: object) -> None:
        super().addFailure(test, err)  # type: ignore[arg-type]
        self.outcomes[self._name(test)] = "fail"

    def addError(self, test: unittest.TestCase, err: object) -> None:
        super().addError(test, err)  # type: ignore[arg-type]
        self.outcomes[self._name(test)] = "error"

    def addSubTest(self, test: unittest.TestCase, subtest: unittest.TestCase,
                   err: object) -> None:
        super().addSubTest(test, subtest, err)  # type: ignore[arg-type]
        if err is not None:
            self.outcomes[self._name(test)] = "fail"

    def addSkip(self, test: unittest.TestCase, reason: str) -> None:
        super().addSkip(test, reason)
        self.outcomes[self._name(test)] = f"skipped ({reason})"


def run(sdist: Path, verbose: bool) -> int:
    work = sdist.parent / "conformance"
    work.mkdir()
    (work / "micropie_tests.py").write_text(
        rewrite_imports((sdist / "tests.py").read_text(encoding="utf-8")), encoding="utf-8"
    )
    sys.path.insert(0, str(work))
    suite = unittest.defaultTestLoader.loadTestsFromName("micropie_tests")
    stream = io.StringIO()
    runner = unittest.TextTestRunner(stream=stream, resultclass=_Result, verbosity=0)
    with contextlib.redirect_stderr(io.StringIO()):
        result = runner.run(suite)
    assert isinstance(result, _Result)
    if verbose:
        print(stream.getvalue())
    outcomes = result.outcomes
    passed = sorted(name for name, outcome in outcomes.items() if outcome == "pass")
    failing = sorted(name for name, outcome in outcomes.items() if outcome != "pass")
    print(f"{len(passed)}/{len(outcomes)} pass (MicroPie {VERSION} tests.py)")
    if len(outcomes) != EXPECTED_TESTS:
        print(f"note: expected {EXPECTED_TESTS} tests, found {len(outcomes)}")
    reasons: dict[str, str] = tomllib.loads(EXPLANATIONS.read_text(encoding="utf-8"))["tests"]
    rows = _doc_rows()
    unexplained = 0
    for name in failing:
        text = explanation(reasons[name], rows) if name in reasons else None
        if text is None:
            unexplained += 1
            text = "UNEXPLAINED: not an internal API and no row of the doc explains it"
        print(f"\n{outcomes[name].upper()} {name}\n    {text}")
    stale = sorted(name for name in passed if name in reasons)
    for name in stale:
        print(f"\nnow passes, remove from {EXPLANATIONS.name}: {name}")
    return 1 if unexplained or stale else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("--sdist", type=Path,
                        help="an extracted micropie sdist folder (default: download it)")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="print unittest's report (tracebacks) too")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="micropie-conformance-") as tmp:
        if args.sdist is not None:
            sdist = Path(tmp) / "sdist"
            sdist.symlink_to(args.sdist.resolve())
        else:
            try:
                sdist = download_sdist(Path(tmp))
            except (subprocess.CalledProcessError, ValueError) as exc:
                print(f"could not download micropie=={VERSION} with pip: {exc}", file=sys.stderr)
                return 2
        return run(sdist, args.verbose)


if __name__ == "__main__":
    sys.exit(main())
