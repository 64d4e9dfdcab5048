"""Which tests a run stopped from outside was in (.ci/run's overall limit).

As a pytest plugin (tests/conftest.py loads it): with $PEAPOD_TEST_PROGRESS set, every test's start
and end are appended to $PEAPOD_TEST_PROGRESS/main.log by the main pytest process (under
pytest-xdist the controller hears of each test's start and end from its workers, so one file
holds them all; the workers themselves write nothing).
As a script: ``python tests/running_tests.py DIR`` prints the tests that started and did not end.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def _record(kind: str, nodeid: str) -> None:
    directory = os.environ.get("PEAPOD_TEST_PROGRESS")
    if not directory or os.environ.get("PYTEST_XDIST_WORKER"):
        return
    Path(directory).mkdir(parents=True, exist_ok=True)
    with open(Path(directory) / f"{os.environ.get('PYTEST_XDIST_WORKER', 'main')}.log", "a", encoding="utf-8") as f:
        f.write(f"{kind} {nodeid}\n")


def pytest_runtest_logstart(nodeid, location):
    _record("start", nodeid)


def pytest_runtest_logfinish(nodeid, location):
    _record("end", nodeid)


def running(directory: Path) -> list[str]:
    """The tests that started and did not end, with their worker."""
    names = []
    for path in sorted(Path(directory).glob("*.log")):
        open_tests: dict[str, None] = {}
        for line in path.read_text(encoding="utf-8").splitlines():
            kind, _, nodeid = line.partition(" ")
            if kind == "start":
                open_tests[nodeid] = None
            else:
                open_tests.pop(nodeid, None)
        names += [f"{nodeid} (worker {path.stem})" for nodeid in open_tests]
    return names


if __name__ == "__main__":
    tests = running(Path(sys.argv[1]))
    print("\n".join(f"still running: {t}" for t in tests) if tests else "no test was running")
