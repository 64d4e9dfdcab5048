"""The GPU benchmark suite runs end to end in its smoke size on whatever device there is."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from tests.helpers import REPO


@pytest.mark.slow
def test_gpu_suite_smoke_prints_every_figure():
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "gpu_suite.py"), "--smoke"], env=env,
                          capture_output=True, text=True, timeout=480)  # measured 46 s
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    rates = [float(x) for x in re.findall(r"([\d.]+) samples/s", out)]
    assert len(rates) >= 2 + 2 and all(r > 0 for r in rates)  # two training paths, two sharing rows
    assert "ours / reference-style" in out
    for method in ("sequential, beam 20", "top-n, beam (paper's)", "top-n, beam_candidates", "top-n, scoring"):
        assert re.search(re.escape(method) + r"\s+[\d.]+ s", out), method
    assert "2 run(s)" in out


def test_a_hanging_test_fails_by_name_and_a_stopped_run_names_its_running_tests(tmp_path):
    """pytest-timeout is installed and names the test it stops; the progress plugin
    (tests/running_tests.py) records which tests a run stopped from outside was in."""
    from tests.running_tests import running

    (tmp_path / "test_hang.py").write_text("import time\n\ndef test_done():\n    pass\n\n"
                                           "def test_sleeps_forever():\n    time.sleep(60)\n")
    progress = tmp_path / "progress"
    # A fresh pytest, not one of this run's xdist workers (their variables would make it one).
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_XDIST", "PYTEST_CURRENT"))}
    env |= {"PEAPOD_TEST_PROGRESS": str(progress),
            "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "tests.running_tests",
                           "-o", "addopts=", "--timeout=2", str(tmp_path / "test_hang.py")],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stdout[-2000:]
    assert "Timeout" in proc.stdout and "test_sleeps_forever" in proc.stdout
    # pytest-timeout ended the test, so both tests have ended; a killed run leaves one open:
    recorded = (progress / "main.log").read_text().split("\n")
    assert sum(line.startswith("start ") for line in recorded) == 2 and running(progress) == []
    (progress / "gw1.log").write_text("start a.py::test_done\nend a.py::test_done\nstart b.py::test_stuck\n")
    assert running(progress) == ["b.py::test_stuck (worker gw1)"]
    assert "timeout" in (REPO / "pyproject.toml").read_text().split("addopts")[1].split("\n")[0]
