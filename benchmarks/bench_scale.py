"""Scale benchmark: synthetic P5 data at Sports size and at N x Sports size through the data stage
(and the embedding and neighbour stages where they exist), time and peak memory per stage.

Each stage runs in its own subprocess so its peak resident memory (ru_maxrss) is its own.

    .venv/bin/python benchmarks/bench_scale.py --scales 1 10
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

STAGE_CODE = {
    "generate": (
        "from peapod.data.synthetic import SPORTS, write_synthetic_p5\n"
        "s = {scale}\n"
        "write_synthetic_p5('{work}/raw', int(SPORTS['users']*s), int(SPORTS['items']*s), int(SPORTS['interactions']*s))\n"
    ),
    "data": (
        "from peapod.data.preprocess import preprocess_dataset\n"
        "from peapod.data.tables import TABLE_NAMES\n"
        "out = {{n: '{work}/data/' + n + '.parquet' for n in TABLE_NAMES}}\n"
        "out['stats'] = '{work}/data/stats.json'\n"
        "preprocess_dataset('scale', {{'source': 'p5'}}, "
        "{{'sequences': '{work}/raw/sequential_data.txt', 'datamaps': '{work}/raw/datamaps.json'}}, out)\n"
    ),
}


def run_stage(name: str, code: str) -> tuple[float, float]:
    """Run ``code`` in a fresh interpreter; return (seconds, peak RSS in GiB)."""
    wrapper = (
        "import resource, time, json\n"
        "t0 = time.perf_counter()\n"
        f"{code}"
        "print(json.dumps({'seconds': time.perf_counter() - t0, "
        "'peak_kib': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))\n"
    )
    proc = subprocess.run([sys.executable, "-c", wrapper], capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"stage {name} failed:\n{proc.stderr[-3000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    return result["seconds"], result["peak_kib"] / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", type=float, nargs="+", default=[1.0, 10.0], help="multiples of Sports size")
    args = parser.parse_args()
    print(f"{'scale':>6} {'stage':<10} {'seconds':>9} {'peak GiB':>9}")
    for scale in args.scales:
        with tempfile.TemporaryDirectory() as work:
            for stage, template in STAGE_CODE.items():
                seconds, peak = run_stage(stage, template.format(scale=scale, work=work))
                print(f"{scale:>6g} {stage:<10} {seconds:>9.1f} {peak:>9.2f}", flush=True)
            stats = json.loads((Path(work) / "data" / "stats.json").read_text())
            print(f"{'':>6} {stats['users']:,} users, {stats['items']:,} items, {stats['reviews']:,} interactions")


if __name__ == "__main__":
    main()
