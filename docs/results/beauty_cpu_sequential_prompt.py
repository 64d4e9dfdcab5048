"""The sequential prompt-blind check of docs/results/beauty-cpu.md (issue 38): seed 1 of PeaPOD and
POD of config/beauty_cpu.yaml on the test split's 1,000 sampled users, sequential HR@10 by the
paper's free beam under the user's own prompt and under the next user's (its user id and, for
PeaPOD, its collaborative prompt; the history in the text stays the user's own), and the share of
returned items the user already has in its history. The evaluation stage has no blind sequential
method; this reuses its beam search (peapod.evaluation.evaluate.RunEvaluator).

    python docs/results/beauty_cpu_sequential_prompt.py [users]
"""
import sys, json
from pathlib import Path
import numpy as np, pandas as pd, torch
from peapod.generator.checkpoint import model_files, load_model_files
from peapod.evaluation.inputs import EvalData, EvalSettings
from peapod.evaluation.evaluate import RunEvaluator
from peapod.generator.data import Templates, fill
from peapod.data.tables import GENERATOR_TABLES, table_paths
from peapod.splits import held_out_target, history_before
from peapod.metrics import rank_in_list
torch.set_num_threads(1)
n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
s = EvalSettings(split="test", sample_users=1000, sample_seed=2022, topn_methods=("beam",))
data = EvalData.from_files(table_paths("results/beauty/data", GENERATOR_TABLES), "test").sampled(1000, 2022, "test")
for name, run_dir in (("peapod", "results/beauty/runs/peapod/28be81fd97/seed1"), ("pod", "results/beauty/runs/pod/26f16e93ee/seed1")):
    run = {**model_files(run_dir), "run": Path(run_dir) / "run.json"}
    model, tok, meta = load_model_files(run, torch.device("cpu"), None)
    ev = RunEvaluator(model, tok, Templates.load("config/templates.yaml"), s, data.catalogue, "cpu")
    users = sorted(data.sequences)[:n]
    out = {}
    for mode in ("own", "blind"):
        prompts, targets, hist = [], [], []
        ids = np.roll(np.asarray(users), -1).tolist() if mode == "blind" else users
        for u, pid in zip(users, ids):
            before = history_before(data.sequences[u], "test")
            prompts.append(fill(ev.templates.eval["sequential"], "sequential", pid, items=before[-ev.cfg.max_history:]))
            targets.append(int(held_out_target(data.sequences[u], "test")))
            hist.append(set(int(i) for i in before))
        beams = ev._beam_rows("sequential", ids, ev._encode(prompts), f"seq {mode}")
        ranked = beams.ranked(ev.in_catalogue)
        hits = np.mean([rank_in_list(r, t) is not None and rank_in_list(r, t) < 10 for r, t in zip(ranked, targets)])
        repeat = np.mean([np.mean([int(i) in h for i in r if i is not None]) if len([i for i in r if i is not None]) else 0 for r, h in zip(ranked, hist)])
        out[mode] = {"hr@10": round(float(hits), 4), "share of returned items in own history": round(float(repeat), 4)}
    print(name, json.dumps(out), flush=True)
