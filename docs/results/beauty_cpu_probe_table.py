"""The probe table of docs/results/beauty-cpu.md from the probes' records (one JSON object a line,
as benchmarks/probe_generator_recipe.py --out appends them):

    python docs/results/beauty_cpu_probe_table.py docs/results/beauty-cpu-probes.jsonl

Every figure is on the validation split (1,000 or 600 fixed users), never the test split.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def row(r: dict) -> str:
    mp = r["most_popular"]
    settings = ", ".join(f"{k}={v}" for k, v in r["overrides"].items()) or "as is"
    return (f"| {r['tag']} | {r['variant']} | {r['config']}: {settings} | {r['samples']:,} ({r['epochs_of_schedule']:g} of "
            f"{r['schedule_epochs']}) | {r['users']} | {r['valid_hr10_topn_beam']:.3f} | {mp['topn_hr10']:.3f} | "
            f"{r['topn_hr10_scoring']:.3f} / {r['topn_hr10_blind']:.3f} | {r['ndcg10_minus_blind']:+.4f} "
            f"(p = {r['p_one_sided']:.1g}) | {r['valid_hr10_sequential_beam']:.3f} | {mp['sequential_hr10']:.3f} | "
            f"{r['samples_per_second']:.0f} |")


def main(path: str) -> None:
    records = [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
    print("| probe | variant | config: settings changed | samples (epochs of schedule) | users | "
          "top-n HR@10 beam | most popular | top-n HR@10 scoring / blind | NDCG@10 minus blind (one-sided p) | "
          "seq HR@10 beam | most popular | samples/s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in records:
        print(row(r))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "docs/results/beauty-cpu-probes.jsonl")
