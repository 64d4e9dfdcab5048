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
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    rates = [float(x) for x in re.findall(r"([\d.]+) samples/s", out)]
    assert len(rates) >= 2 + 2 and all(r > 0 for r in rates)  # two training paths, two sharing rows
    assert "ours / reference-style" in out
    for method in ("sequential, beam 20", "top-n, beam (paper's)", "top-n, beam_candidates", "top-n, scoring"):
        assert re.search(re.escape(method) + r"\s+[\d.]+ s", out), method
    assert "2 run(s)" in out
