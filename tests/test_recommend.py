"""Recommendations out of a trained run (peapod.evaluation.recommend): top-k next items in original
ids, never an item of the history, exact scores, the evaluation's list when asked for its split,
explanations of given pairs, and clear errors for ids a file names but the dataset lacks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from peapod.data.demo import DemoConfig
from peapod.data.tables import table_paths
from peapod.errors import InputError
from peapod.evaluation.evaluate import EvalData, EvalSettings, RunEvaluator
from peapod.evaluation.recommend import (IdMap, RecommendSettings, read_pairs, read_user_list,
                                         recommend_next_items, write_explanations, write_recommendations)
from peapod.evaluation.trie import ItemTrie
from peapod.generator.backbone import load_backbone
from peapod.generator.checkpoint import model_files, save_model_dir
from peapod.generator.config import GeneratorConfig
from peapod.generator.model import PeaPOD
from tests.generator_helpers import templates
from tests.helpers import TEMPLATES, make_demo

SMALL = DemoConfig(n_users=30, n_items=120, n_groups=3, min_length=5, max_length=9, seed=4)
TINY = dict(d_model=32, d_ff=64, num_layers=1, num_heads=2, dropout_rate=0.0)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A tiny untrained model saved as a run, with its demo dataset's tables."""
    root = tmp_path_factory.mktemp("recommend")
    demo = make_demo(root, SMALL, parquet=True)
    cfg = GeneratorConfig.from_dict({"tiny": TINY, "user_prompt": "none"})
    torch.manual_seed(0)
    t5, tok = load_backbone(cfg, demo.task_data().tokenizer_corpus(templates()))
    save_model_dir(root / "run", PeaPOD(t5, cfg).eval(), tok)
    tables = table_paths(root / "data")
    return root, model_files(root / "run"), tables


def id_maps(tables):
    return (IdMap(pd.read_parquet(tables["users"]), "user_id", "user"),
            IdMap(pd.read_parquet(tables["items"]), "item_id", "item"))


def sequences_of(tables) -> dict[int, list[int]]:
    seq = pd.read_parquet(tables["sequences"]).sort_values(["user_id", "position"])
    return {int(u): g["item_id"].tolist() for u, g in seq.groupby("user_id")}


def outputs(root, name):
    return {"parquet": root / f"{name}.parquet", "csv": root / f"{name}.csv"}


# ---- the trie without a user's history ------------------------------------------------------------
EOS = 1
PATHS = {1: [5], 12: [5, 6], 13: [5, 7], 2: [8], 3: [9, 6]}  # item -> tokens; 1 is a prefix of 12, 13


def test_a_trie_without_some_items_never_leads_into_a_branch_left_empty():
    trie = ItemTrie(PATHS, EOS)
    assert sorted(trie.allowed([])) == [5, 8, 9]
    without = trie.excluding([12, 13])
    assert len(without) == 3
    assert sorted(without.allowed([])) == [5, 8, 9] and without.allowed([5]) == [EOS]  # only item 1 is left
    without = trie.excluding([1, 12, 13, 99])  # 99 is no item: nothing to take out
    assert len(without) == 2 and sorted(without.allowed([])) == [8, 9]
    without = trie.excluding([1])
    assert sorted(without.allowed([5])) == [6, 7]  # 12 and 13 stay reachable, 1 cannot end
    assert sorted(trie.allowed([5])) == [EOS, 6, 7]  # the trie itself is untouched
    assert without.allowed([4]) == [EOS]  # off the trie: only EOS, as in the trie


# ---- next items -------------------------------------------------------------------------------------
def test_every_user_gets_top_k_distinct_unseen_items_in_original_ids_with_ordered_exact_scores(run, tmp_path):
    root, model, tables = run
    settings = RecommendSettings(top_k=5, beams=8, batch_size=8)
    frame = write_recommendations(model, tables, TEMPLATES, settings, outputs(tmp_path, "next"))
    written = pd.read_parquet(tmp_path / "next.parquet")
    pd.testing.assert_frame_equal(written, frame)
    csv = pd.read_csv(tmp_path / "next.csv", dtype={"user": str, "item": str})
    assert csv[["user", "item", "rank"]].values.tolist() == frame[["user", "item", "rank"]].values.tolist()

    users, items = id_maps(tables)
    sequences = sequences_of(tables)
    assert sorted(frame["user_id"].unique()) == sorted(sequences)
    for user, rows in frame.groupby("user_id"):
        assert rows["rank"].tolist() == [1, 2, 3, 4, 5]
        assert rows["item_id"].nunique() == 5 and not set(rows["item_id"]) & set(sequences[user])
        assert (np.diff(rows["score"].to_numpy()) <= 0).all() and (rows["score"] < 0).all()
        assert sorted(rows["beam_rank"]) == [1, 2, 3, 4, 5]
        assert set(rows["user"]) == {users.raw_of[user]}
        assert rows["item"].tolist() == [items.raw_of[i] for i in rows["item_id"]]
    assert set(frame["item"]) <= set(pd.read_parquet(tables["items"])["raw_id"])


def evaluator_of(run, **settings) -> tuple[RunEvaluator, EvalData]:
    from peapod.generator.checkpoint import load_model_files

    root, model, tables = run
    loaded, tok, _ = load_model_files(model)
    data = EvalData.from_directory(root / "data", "test")
    return RunEvaluator(loaded, tok, templates(), EvalSettings(**settings), data.catalogue), data


def test_scores_are_the_items_exact_log_likelihood_under_the_prompt(run):
    ev, data = evaluator_of(run, beams=6, top_k=4, batch_size=4)
    users, items = id_maps(run[2])
    user = sorted(data.sequences)[0]
    frame = recommend_next_items(ev, data.sequences, [user], RecommendSettings(top_k=4, beams=6), items, users)
    history = data.sequences[user]
    prompt = ev.templates.eval["sequential"].format(user=user, history=" ".join(f"item_{i}" for i in history))
    _, batch = next(ev._batches("sequential", [user], ev._encode([prompt]), "check"))
    labels = ev.item_labels[torch.as_tensor(frame["item_id"].to_numpy())][None]
    naive = ev.model.score_candidates_naive(batch, labels)[0].numpy()
    np.testing.assert_allclose(frame["score"].to_numpy(), naive, rtol=1e-4, atol=1e-4)


def test_a_planted_preference_comes_first_except_for_users_who_have_the_item(run):
    """Boost the tokens of one item at every step: every user who never had it gets it first; the
    users whose history holds it never get it (exclude_history)."""
    ev, data = evaluator_of(run, beams=6, top_k=3, batch_size=8)
    users, items = id_maps(run[2])
    counts = pd.Series(np.concatenate(list(data.sequences.values()))).value_counts()
    favourite = int(counts.index[0])  # the most common item: some users have it, most do not
    tokens = ev.item_tokens[favourite] + [ev.eos]
    bias = torch.zeros(ev.model.t5.config.vocab_size)
    bias[tokens] = 40.0
    hook = ev.model.t5.lm_head.register_forward_hook(lambda mod, inp, out: out + bias)
    try:
        frame = recommend_next_items(ev, data.sequences, sorted(data.sequences), RecommendSettings(top_k=3, beams=6),
                                     items, users)
    finally:
        hook.remove()
    have = {u for u, seq in data.sequences.items() if favourite in seq}
    assert 0 < len(have) < len(data.sequences)
    first = frame[frame["rank"] == 1].set_index("user_id")["item_id"]
    assert all(first[u] == favourite for u in data.sequences if u not in have)
    assert not frame[frame["user_id"].isin(have) & (frame["item_id"] == favourite)].size


def test_with_the_test_history_and_no_exclusion_the_list_is_the_evaluations(run, monkeypatch):
    """history test, exclude_history false: the prompts and catalogue-constrained beams of the
    evaluation (constrained: true), so each user's list in beam order is the one it scored."""
    ev, data = evaluator_of(run, beams=6, top_k=5, batch_size=8, constrained=True)
    users, items = id_maps(run[2])
    scored = []
    beam_rows = ev._beam_rows
    monkeypatch.setattr(ev, "_beam_rows", lambda *a, **k: scored.append(beam_rows(*a, **k)) or scored[-1])
    ev.sequential(data)
    evaluated = dict(zip(sorted(data.sequences), scored[0].ranked(ev.in_catalogue)))
    frame = recommend_next_items(ev, data.sequences, sorted(data.sequences),
                                 RecommendSettings(top_k=5, beams=6, history="test", exclude_history=False),
                                 items, users)
    listed = {u: rows.sort_values("beam_rank")["item_id"].tolist() for u, rows in frame.groupby("user_id")}
    assert listed == evaluated
    # The default (history all, its items excluded) prompts with more and so lists otherwise.
    default = recommend_next_items(ev, data.sequences, sorted(data.sequences), RecommendSettings(top_k=5, beams=6),
                                   items, users)
    assert {u: rows.sort_values("beam_rank")["item_id"].tolist() for u, rows in default.groupby("user_id")} != listed


def test_settings_are_checked():
    with pytest.raises(ValueError, match="top_k"):
        RecommendSettings(top_k=30, beams=20)
    with pytest.raises(ValueError, match="history"):
        RecommendSettings(history="train")


# ---- files naming users and pairs -------------------------------------------------------------------
def test_a_user_list_keeps_its_order_once_each_and_names_a_stranger_by_line(run, tmp_path):
    users, _ = id_maps(run[2])
    raw = [users.raw_of[u] for u in (3, 1, 7)]
    text = tmp_path / "users.txt"
    text.write_text(f"# wanted\n{raw[0]}\n\n{raw[1]}\n  {raw[2]}  \n{raw[0]}\n")
    assert read_user_list(text, users) == [3, 1, 7]
    table = tmp_path / "users.csv"
    pd.DataFrame({"user": raw, "note": ["a", "b", "c"]}).to_csv(table, index=False)
    assert read_user_list(table, users) == [3, 1, 7]
    text.write_text(f"{raw[0]}\nnobody\n")
    with pytest.raises(InputError, match=r"users\.txt, line 2: user 'nobody' is not in the dataset"):
        read_user_list(text, users)
    pd.DataFrame({"id": raw}).to_csv(table, index=False)
    with pytest.raises(InputError, match=r"users\.csv: lacks the column\(s\) \['user'\]; found \['id'\]"):
        read_user_list(table, users)
    text.write_text("# nobody\n")
    with pytest.raises(InputError, match="lists no user"):
        read_user_list(text, users)


def test_pairs_are_explained_in_the_files_order_and_a_bad_pair_is_named(run, tmp_path):
    root, model, tables = run
    users, items = id_maps(tables)
    pairs = [(5, 2), (1, 9), (5, 2)]
    path = tmp_path / "pairs.tsv"
    pd.DataFrame({"user": [users.raw_of[u] for u, _ in pairs],
                  "item": [items.raw_of[i] for _, i in pairs]}).to_csv(path, sep="\t", index=False)
    settings = EvalSettings(explanation_beams=2, explanation_min_length=2, explanation_max_length=8, batch_size=2)
    frame = write_explanations(model, tables, TEMPLATES, settings, path, outputs(tmp_path, "exp"))
    assert list(zip(frame["user_id"], frame["item_id"])) == pairs
    assert frame["item"].tolist() == [items.raw_of[i] for _, i in pairs]
    ev, _ = evaluator_of(run, **{k: getattr(settings, k) for k in
                                 ("explanation_beams", "explanation_min_length", "explanation_max_length")})
    assert frame["explanation"].tolist() == ev.generate_explanations([u for u, _ in pairs], [i for _, i in pairs])
    assert frame["explanation"].str.len().gt(0).all()
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "exp.parquet"), frame)

    path.write_text(f"user\titem\n{users.raw_of[1]}\t{items.raw_of[2]}\n{users.raw_of[1]}\tB-missing\n")
    with pytest.raises(InputError, match=r"pairs\.tsv, line 3: item 'B-missing' is not in the dataset"):
        read_pairs(path, users, items)
    path.write_text(f"user\titem\n\t{items.raw_of[2]}\n")
    with pytest.raises(InputError, match=r"pairs\.tsv, line 2: empty user"):
        read_pairs(path, users, items)
    (tmp_path / "pairs.json").write_text("{}")
    with pytest.raises(InputError, match=r"must be a \.csv, \.tsv or \.parquet file"):
        read_pairs(tmp_path / "pairs.json", users, items)


def test_a_run_that_never_learned_explanations_refuses_to_explain(run, tmp_path):
    """On data without explanation text the explanation task is skipped in training; the checkpoint
    says so (tasks_trained), and asking it for explanations stops with that reason instead of
    returning what an untrained head spells."""
    import json
    import shutil

    root, model, tables = run
    users, items = id_maps(tables)
    untaught = tmp_path / "run"
    shutil.copytree(Path(model["model"]).parent, untaught)
    meta = json.loads((untaught / "config.json").read_text())
    (untaught / "config.json").write_text(json.dumps({**meta, "tasks_trained": ["sequential", "topn"]}))
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text(f"user\titem\n{users.raw_of[1]}\t{items.raw_of[2]}\n")
    settings = EvalSettings(explanation_beams=2, explanation_min_length=2, explanation_max_length=8)
    with pytest.raises(ValueError, match=r"did not learn the explanation task \(it trained sequential, topn"):
        write_explanations(model_files(untaught), tables, TEMPLATES, settings, pairs, outputs(tmp_path, "exp"))
    assert not (tmp_path / "exp.parquet").exists()
    # next items need the sequential task, which it did learn
    frame = write_recommendations(model_files(untaught), tables, TEMPLATES, RecommendSettings(top_k=2, beams=4),
                                  outputs(tmp_path, "next"))
    assert len(frame) == 2 * len(users.raw_of)
