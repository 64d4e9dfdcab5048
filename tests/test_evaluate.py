"""Evaluation on a small demo with a tiny T5: constrained beams yield only real items, candidate
scoring follows the model's preference, and a run directory is evaluated end to end."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from peapod.data.demo import DemoConfig
from peapod.evaluation.evaluate import EvalData, EvalSettings, RunEvaluator, evaluate_run_directory
from peapod.generator.backbone import load_backbone
from peapod.generator.checkpoint import save_model_dir
from peapod.generator.config import GeneratorConfig
from peapod.generator.decoding import spelled_ids
from peapod.generator.model import PeaPOD
from peapod.metrics import BEAM_DIAGNOSTICS
from tests.generator_helpers import templates
from tests.helpers import TEMPLATES, make_demo

SMALL = DemoConfig(n_users=40, n_items=120, n_groups=4, min_length=5, max_length=9, seed=2)
TINY = dict(d_model=32, d_ff=64, num_layers=1, num_heads=2, dropout_rate=0.0)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("eval")
    demo = make_demo(root, SMALL, parquet=True)
    cfg = GeneratorConfig.from_dict({"tiny": TINY, "user_prompt": "none"})
    torch.manual_seed(0)
    t5, tok = load_backbone(cfg, demo.task_data().tokenizer_corpus(templates()))
    model = PeaPOD(t5, cfg).eval()
    return root, model, tok


def evaluator(setup, **settings):
    root, model, tok = setup
    data = EvalData.from_directory(root / "data", settings.pop("split", "test"))
    s = EvalSettings(beams=6, top_k=5, batch_size=8, explanation_beams=2, explanation_max_length=12, **settings)
    return RunEvaluator(model, tok, templates(), s, data.catalogue), data


def prefer(model, token_ids: list[int], boost: float = 30.0):
    """Make the model prefer the given tokens at every decoding step (a hook on its output layer)."""
    bias = torch.zeros(model.t5.config.vocab_size)
    bias[token_ids] = boost
    return model.t5.lm_head.register_forward_hook(lambda mod, inp, out: out + bias)


def test_constrained_beams_only_return_real_distinct_items(setup):
    ev, data = evaluator(setup, constrained=True)
    frame = ev.sequential(data)
    assert len(frame) == SMALL.n_users
    # Inspect the returned lists themselves (rank alone would hide invalid ids).
    users = sorted(data.sequences)[:8]
    prompts = [f"user_{u} " + " ".join(f"item_{i}" for i in data.sequences[u][:-1]) for u in users]
    checked = 0
    for _, batch in ev._batches("sequential", users, ev._encode(prompts), "test"):
        lists = ev._beam_lists(batch, lambda row: ev.catalogue_trie).ranked(ev.in_catalogue)
        for items in lists:
            assert len(items) == 5 and len(set(items)) == 5
            assert set(items) <= set(int(i) for i in data.catalogue)
        # The order is the model's: the same beam search's sequence scores, best first.
        out = ev.model.generate(batch, num_beams=6, num_return_sequences=5, max_new_tokens=ev.max_item_len,
                                do_sample=False, early_stopping=True, output_scores=True,
                                return_dict_in_generate=True,
                                prefix_allowed_tokens_fn=ev._allowed_fn(lambda row: ev.catalogue_trie))
        scores = out.sequences_scores.view(len(lists), 5)
        ids = spelled_ids(out.sequences, ev.tokenizer, ev.start, ev.tokenizer.eos_token_id).reshape(len(lists), 5)
        for items, row_ids, row_scores in zip(lists, ids, scores):
            order = row_scores.argsort(descending=True, stable=True).numpy()
            assert items == [int(i) for i in row_ids[order]]
            assert (row_scores[:-1] - row_scores[1:] >= -1e-6).all()  # returned best first
            checked += 1
    assert checked == len(users)


def scripted_beams(ev, texts: list[str], calls: list[dict], finished: bool = True):
    """Stand-in for ``model.generate`` that returns ``texts`` as every row's returned sequences, in
    order (the evaluator's reading and ranking are under test, not the model), recording each call's
    kwargs. Like ``generate``, it returns ``num_return_sequences`` of them; a text is a beam that
    ended with EOS unless ``finished`` is False (then it was cut off before EOS)."""
    def generate(batch, **kwargs):
        calls.append(kwargs)
        returned = kwargs["num_return_sequences"]
        rows = []
        for t in (texts + ["zz"] * returned)[:returned]:
            ids = ev.tokenizer(t)["input_ids"]  # ends with EOS
            rows.append([ev.start] + (ids if finished else ids[:-1]))
        width = max(map(len, rows))
        seqs = [row + [ev.tokenizer.pad_token_id] * (width - len(row)) for row in rows]
        return torch.tensor(seqs * batch["input_ids"].shape[0])
    return generate


def test_unconstrained_beams_keep_misses_in_place(setup, monkeypatch):
    """Free sequential decoding: the list is the top_k returned sequences in order; a sequence that
    spells no catalogue id (an id outside the catalogue, words) is a miss that keeps its place,
    never counted, dropped to promote the next, nor replaced."""
    ev, data = evaluator(setup, constrained=False, max_users=1)
    user = sorted(data.sequences)[0]
    target = int(data.sequences[user][-1])
    other = next(int(i) for i in data.catalogue if int(i) not in data.sequences[user])
    invalid = str(int(data.catalogue.max()) + 1)
    assert ev.catalogue_trie.item_of(ev.tokenizer(invalid)["input_ids"]) is None  # spells no item
    calls: list[dict] = []
    monkeypatch.setattr(ev.model, "generate", scripted_beams(ev, [invalid, str(other), "no id", str(target)], calls))
    prompt = f"user_{user} " + " ".join(f"item_{i}" for i in data.sequences[user][:-1])
    _, batch = next(ev._batches("sequential", [user], ev._encode([prompt]), "test"))
    assert ev._beam_lists(batch).ranked(ev.in_catalogue) == [[None, other, None, target, None]]
    frame = ev.sequential(data)
    assert frame["user_id"].tolist() == [user] and frame["rank"].tolist() == [3]  # fourth returned
    assert frame["hr@5"].tolist() == [1.0] and frame["ndcg@5"].tolist() == [pytest.approx(1 / np.log2(5))]
    assert "prefix_allowed_tokens_fn" not in calls[-1]  # free decoding: the parsing is under test
    # The paper's list: generate returns top_k (5) of the 6 beams, not all 6 to pick 5 valid ones from.
    assert calls[-1]["num_return_sequences"] == 5 and calls[-1]["num_beams"] == 6
    assert frame["share_finished"].tolist() == [1.0] and frame["share_ids"].tolist() == [pytest.approx(3 / 5)]
    assert frame["share_catalogue"].tolist() == [pytest.approx(2 / 5)]


def test_the_target_below_top_k_is_a_miss_even_after_invalid_beams(setup, monkeypatch):
    """Five misses (four of them invalid) then the target: with top_k 5 the target is not in the
    list. Reading 20 beams and keeping the first 5 valid ids (the old behaviour) would have found it."""
    ev, data = evaluator(setup, constrained=False, max_users=1)
    user = sorted(data.sequences)[0]
    target = int(data.sequences[user][-1])
    other = next(int(i) for i in data.catalogue if int(i) not in data.sequences[user])
    monkeypatch.setattr(ev.model, "generate",
                        scripted_beams(ev, ["no id", "x", str(other), "y", "z", str(target)], [], finished=True))
    frame = ev.sequential(data)
    assert frame["rank"].isna().all() and frame["hr@10"].tolist() == [0.0]


def test_a_beam_cut_off_before_eos_is_no_id(setup, monkeypatch):
    """A beam that max_new_tokens cut off before EOS spells the target's digits but is not an id."""
    ev, data = evaluator(setup, constrained=False, topn_methods=("beam",), max_users=1)
    user = sorted(data.sequences)[0]
    target = int(data.sequences[user][-1])
    monkeypatch.setattr(ev.model, "generate", scripted_beams(ev, [str(target)], [], finished=False))
    frame = ev.sequential(data)
    assert frame["rank"].isna().all() and frame["share_finished"].tolist() == [0.0]
    assert frame["share_ids"].tolist() == [0.0]
    monkeypatch.setattr(ev.model, "generate", scripted_beams(ev, [str(target)], [], finished=True))
    assert ev.sequential(data)["rank"].tolist() == [0]


def test_free_topn_beams_keep_outside_ids_and_misses_in_place(setup, monkeypatch):
    """The paper's top-n beam: an id outside the candidates keeps its place, a text that is no
    catalogue id is a miss in its place (never replaced by a random item), duplicates stay."""
    ev, data = evaluator(setup, topn_methods=("beam",), max_users=1)
    users, prompts, cands, target_index, _ = ev._topn_inputs(data)
    target = int(cands[0][target_index[0]])
    outside = next(int(i) for i in data.catalogue if int(i) not in set(cands[0].tolist()))
    calls: list[dict] = []
    monkeypatch.setattr(ev.model, "generate", scripted_beams(ev, [str(outside), "no id", "99999", str(outside),
                                                                   str(target)], calls))
    frame = ev.topn(data)
    assert frame["rank"].tolist() == [4] and frame["method"].tolist() == ["beam"]
    assert "prefix_allowed_tokens_fn" not in calls[0] and "logits_processor" not in calls[0]
    assert frame["share_candidates"].tolist() == [pytest.approx(1 / 5)]
    assert frame["top1_in_candidates"].tolist() == [0.0]
    assert frame["share_catalogue"].tolist() == [pytest.approx(3 / 5)]
    ev2, _ = evaluator(setup, topn_methods=("beam_candidates",), max_users=1)
    calls.clear()
    monkeypatch.setattr(ev2.model, "generate", scripted_beams(ev2, [str(target)], calls))
    assert ev2.topn(data)["method"].tolist() == ["beam_candidates"]
    from peapod.generator.decoding import CandidatePaths

    restriction = calls[0]["logits_processor"][0]  # restricted to the user's candidates
    assert isinstance(restriction, CandidatePaths) and "prefix_allowed_tokens_fn" not in calls[0]
    _, _, cand_rows, _, _ = ev2._topn_inputs(data)
    assert torch.equal(restriction.paths[0], ev2.item_labels[torch.as_tensor(cand_rows[0])])
    # Sequential: free by default (the paper), a catalogue trie when constrained.
    calls.clear()
    ev.sequential(data)
    assert "prefix_allowed_tokens_fn" not in calls[0]


def test_beam_ranks_reach_each_users_row_across_batches(setup, monkeypatch):
    """Scripted beams that differ per user (the target at position user_id % 5, misses before it),
    over five batches of 8 users: each user's rank is its own script's, so no batch after the
    first is read into another user's row."""
    ev, data = evaluator(setup, constrained=False)
    target = {u: int(data.sequences[u][-1]) for u in data.sequences}
    calls: list[dict] = []

    def generate(batch, **kwargs):
        calls.append(kwargs)
        rows = []
        for u in batch["user_ids"].tolist():
            texts = ["no id"] * (u % 5) + [str(target[u])] + ["zz"] * kwargs["num_return_sequences"]
            rows += [[ev.start] + ev.tokenizer(t)["input_ids"] for t in texts[: kwargs["num_return_sequences"]]]
        width = max(map(len, rows))
        return torch.tensor([row + [ev.tokenizer.pad_token_id] * (width - len(row)) for row in rows])

    monkeypatch.setattr(ev.model, "generate", generate)
    frame = ev.sequential(data)
    assert len(calls) == 5 and len(frame) == SMALL.n_users
    assert frame.set_index("user_id")["rank"].to_dict() == {u: u % 5 for u in data.sequences}


def test_beams_restricted_to_candidates_are_each_users_own_candidates_across_batches(setup):
    """The real ``beam_candidates`` search over several batches: every returned beam is an item
    among its own user's 100 candidates (a batch after the first must not be restricted to
    another user's)."""
    ev, data = evaluator(setup, topn_methods=("beam_candidates",))
    users, prompts, cands, _, _ = ev._topn_inputs(data)
    assert len(users) > 2 * ev.s.batch_size
    beams = ev._beam_rows("topn", users, ev._encode(prompts), "test", candidate_rows=cands)
    for user, row, own in zip(users, beams.ranked(ev.in_catalogue), cands):
        assert all(item is not None and item in set(own.tolist()) for item in row), (user, row)
    frame = ev.topn(data)
    assert (frame["share_candidates"] == 1.0).all() and (frame["top1_in_candidates"] == 1.0).all()


def test_exact_scoring_ranks_each_users_own_target_across_batches(setup):
    """Exact scoring over three batches of 8: each user's rank is its own target's among its own
    scores, computed here from one batch of every user (a rank read against another row's target
    would be off for most users; float noise between batchings is allowed as ties within 1e-4)."""
    ev, data = evaluator(setup, topn_methods=("scoring",), max_users=24)
    users, prompts, cands, target_index, _ = ev._topn_inputs(data)
    assert len(users) > 2 * ev.s.batch_size
    ranks = ev.topn(data).set_index("user_id")["rank"]
    ev.s.batch_size = len(users)
    (_, batch), = ev._batches("topn", users, ev._encode(prompts), "test")
    scores = ev.model.score_candidates(batch, ev.item_labels[torch.as_tensor(np.stack(cands))]).numpy()
    for i, user in enumerate(users):
        truth = scores[i, target_index[i]]
        ahead, tied = (scores[i] > truth + 1e-4).sum(), (scores[i] >= truth - 1e-4).sum() - 1
        assert ahead <= ranks[user] <= tied, (user, ranks[user], ahead, tied)


def test_candidate_scoring_ranks_the_preferred_item_first(setup):
    ev, data = evaluator(setup, topn_methods=("scoring", "beam"))
    users, prompts, cands, target_index, _ = ev._topn_inputs(data)
    # For each of a few users, make the model prefer one of its candidates (not the target) whose
    # tokens no other candidate is made of; scoring and beam search must both put it first.
    checked = 0
    for r in range(len(users)):
        for item in cands[r]:
            toks = set(ev.item_tokens[int(item)])
            if all(not set(ev.item_tokens[int(o)]) <= toks for o in cands[r] if o != item):
                break
        else:
            continue
        hook = prefer(ev.model, sorted(toks) + [ev.eos])
        try:
            batch = next(ev._batches("topn", [users[r]], ev._encode([prompts[r]]), "test"))[1]
            L = ev.max_item_len
            labels = torch.full((1, len(cands[r]), L), -100, dtype=torch.long)
            for c, i in enumerate(cands[r]):
                t = ev.item_tokens[int(i)] + [ev.eos]
                labels[0, c, : len(t)] = torch.as_tensor(t)
            scores = ev.model.score_candidates(batch, labels)[0].numpy()
            assert int(cands[r][int(np.argmax(scores))]) == int(item)
            from peapod.evaluation.trie import ItemTrie

            trie = ItemTrie({int(i): ev.item_tokens[int(i)] for i in cands[r]}, ev.eos)
            assert ev._beam_lists(batch, lambda row: trie).ranked(ev.in_catalogue)[0][0] == int(item)
        finally:
            hook.remove()
        checked += 1
        if checked == 3:
            break
    assert checked == 3


def test_scoring_equals_the_naive_reference(setup):
    ev, data = evaluator(setup)
    users, prompts, cands, _, _ = ev._topn_inputs(data)
    batch = next(ev._batches("topn", users[:4], ev._encode(prompts[:4]), "test"))[1]
    labels = torch.full((4, len(cands[0]), ev.max_item_len), -100, dtype=torch.long)
    for r in range(4):
        for c, i in enumerate(cands[r]):
            t = ev.item_tokens[int(i)] + [ev.eos]
            labels[r, c, : len(t)] = torch.as_tensor(t)
    fast = ev.model.score_candidates(batch, labels)
    naive = ev.model.score_candidates_naive(batch, labels)
    assert torch.allclose(fast, naive, atol=1e-4)


def test_run_directory_is_evaluated_and_written(setup, tmp_path):
    root, model, tok = setup
    run = tmp_path / "run"
    save_model_dir(run, model, tok)
    outputs = {k: tmp_path / f"{k}.{ext}" for k, ext in
               (("metrics", "parquet"), ("per_user", "parquet"), ("texts", "parquet"), ("buckets", "csv"), ("summary", "json"))}
    s = EvalSettings(beams=4, top_k=4, batch_size=16, explanation_beams=2, explanation_max_length=12)
    evaluate_run_directory(run, root / "data", TEMPLATES, s, outputs)
    metrics = pd.read_parquet(outputs["metrics"])
    assert set(metrics.columns) == {"task", "method", "split", "metric", "value"}
    tasks = set(zip(metrics.task, metrics.method))
    assert tasks == {("sequential", "beam"), ("topn", "beam"), ("topn", "beam_candidates"), ("topn", "scoring"),
                     ("topn", "scoring_blind"), ("explanation", "beam"), ("explanation", "beam_reference")}
    for method in ("beam", "beam_reference"):
        exp = metrics[(metrics.task == "explanation") & (metrics.method == method)]
        assert set(exp.metric) == {"bleu4", "rouge1", "rouge2", "rougel"}
    ranking_names = {"hr@1", "hr@5", "hr@10", "ndcg@5", "ndcg@10"}
    assert set(metrics[metrics.task == "topn"].metric) == ranking_names | set(BEAM_DIAGNOSTICS)
    for method in ("scoring", "scoring_blind"):  # exact scoring returns no beams: no diagnostics
        assert set(metrics[(metrics.task == "topn") & (metrics.method == method)].metric) == ranking_names
    per_user = pd.read_parquet(outputs["per_user"])
    assert {"user_id", "task", "method", "split", "rank", "history_length"} <= set(per_user.columns)
    texts = pd.read_parquet(outputs["texts"])
    assert list(texts.columns) == ["user_id", "item_id", "reference", "reference_as_trained", "generated"]
    assert len(texts) > 0
    # The reference scoring's targets are the training targets: the first explanation_length tokens.
    for full, cut in zip(texts.reference, texts.reference_as_trained):
        ids = tok(full)["input_ids"][: model.cfg.explanation_length]
        assert cut == tok.decode(ids, skip_special_tokens=True).strip()
    long = " ".join(texts.reference.iloc[:4])  # longer than explanation_length tokens: cut
    ev, _ = evaluator(setup)
    assert len(ev.targets_as_trained([long])[0].split()) < len(long.split())
    # Every ranking metric in the metrics file, once per task and method, is the mean over users of
    # its definition, computed here from the per-user ranks (no rank: the item was not returned).
    assert np.isfinite(metrics["value"]).all()
    ranking = metrics[(metrics.task != "explanation") & ~metrics.metric.isin(BEAM_DIAGNOSTICS)]
    assert not ranking.duplicated(["task", "method", "metric"]).any()
    assert len(ranking) == 4 + 4 * 5  # sequential: HR/NDCG@5,10; top-n, 4 methods: HR@1,5,10, NDCG@5,10
    for (task, method), users in per_user[per_user.task != "explanation"].groupby(["task", "method"]):
        rank = users["rank"].astype("float64").fillna(np.inf).to_numpy()
        assert len(users) == SMALL.n_users
        expected = {f"hr@{k}": float(np.mean(rank < k)) for k in ((5, 10) if task == "sequential" else (1, 5, 10))}
        expected |= {f"ndcg@{k}": float(np.mean(np.where(rank < k, 1 / np.log2(np.minimum(rank, k) + 2), 0)))
                     for k in (5, 10)}
        got = ranking[(ranking.task == task) & (ranking.method == method)].set_index("metric")["value"].to_dict()
        assert got == pytest.approx(expected), (task, method)
    # Scoring ranks all 100 candidates: its ranks spread, so the check above is not one of zeros.
    scoring = ranking[(ranking.method == "scoring") & (ranking.metric == "ndcg@10")]["value"]
    assert len(scoring) == 1 and 0 < scoring.iloc[0] < 1
    assert pd.read_csv(outputs["buckets"])["users"].sum() == len(per_user)


def test_prompt_blind_control_scores_own_candidates_under_another_users_prompt(setup, monkeypatch):
    """scoring_blind: every user's own 100 candidates (the labels), scored under another user's
    prompt (its user id, hence its collaborative prompt and its user_N token)."""
    ev, data = evaluator(setup, topn_methods=("scoring", "scoring_blind"))
    users, _, cands, _, _ = ev._topn_inputs(data)
    seen: dict[str, list] = {"scoring": [], "scoring_blind": []}
    real = ev.model.score_candidates

    def recording(batch, labels, memory_mib):
        seen[method].append((batch["user_ids"].tolist(), batch["input_ids"], labels))
        return real(batch, labels, memory_mib)

    monkeypatch.setattr(ev.model, "score_candidates", recording)
    for method in ("scoring", "scoring_blind"):
        ev.s.topn_methods = (method,)
        ev.topn(data)
    owner = {ev.item_labels[torch.as_tensor(c)].numpy().tobytes(): u for u, c in zip(users, cands)}
    assert [owner[l.numpy().tobytes()] for _, _, ls in seen["scoring"] for l in ls] == \
        [u for us, _, _ in seen["scoring"] for u in us]  # the plain scoring: own prompt, own candidates
    prompt_user = {}
    for u_blind, x_blind, l_blind in seen["scoring_blind"]:
        for row, b in enumerate(u_blind):
            a = owner[l_blind[row].numpy().tobytes()]  # whose candidates these are
            assert a != b
            prompt_user[a] = b
            assert f"user_{b}" in ev.tokenizer.decode(x_blind[row], skip_special_tokens=True).replace(" ", "")
    assert sorted(prompt_user) == sorted(users) and sorted(prompt_user.values()) == sorted(users)


@pytest.mark.parametrize("lengths", ["items", "branching"])
def test_candidate_paths_restrict_beams_exactly_as_the_trie(tmp_path, lengths):
    """decoding.CandidatePaths (tensor operations) gives the very beams and scores of Hugging Face's
    prefix_allowed_tokens_fn walking an ItemTrie of each prompt's candidates (the code it replaced),
    and every returned item is a candidate of its prompt. "items": the prompts' own candidates
    (one token each in this small vocabulary); "branching": paths of 1-3 tokens over a 3-token
    alphabet, so that candidates share prefixes and branch at every step."""
    import torch
    from transformers import LogitsProcessorList

    from peapod.evaluation.trie import ItemTrie
    from peapod.generator.data import Batches
    from peapod.generator.decoding import CandidatePaths
    from tests.generator_helpers import small_generator_inputs, small_model, templates

    small = small_generator_inputs(tmp_path)
    model, tok, cfg = small_model(small)
    val = Batches(small[0], tok, templates(), cfg, seed=0).validation()
    batch = {k: v[:4] for k, v in val.batches["topn"][0].items()}
    eos, start = tok.eos_token_id, model.t5.config.decoder_start_token_id
    if lengths == "items":
        paths = val.item_labels[torch.from_numpy(val.topn_candidates[:4, :10])]  # (4, 10, L), -100 after EOS
    else:
        rng = np.random.default_rng(0)
        alphabet = [10, 11, 12]
        spelled = [sorted({tuple(rng.choice(alphabet, size=rng.integers(1, 4))) for _ in range(30)})[:10]
                   for _ in range(4)]
        paths = torch.full((4, 10, 4), -100, dtype=torch.long)
        for p, row in enumerate(spelled):
            for c, tokens in enumerate(row):
                paths[p, c, :len(tokens) + 1] = torch.tensor(list(tokens) + [eos])
    tries = [ItemTrie({c: [int(t) for t in path if t >= 0 and t != eos] for c, path in enumerate(row)}, eos)
             for row in paths]

    def allowed(row, ids):
        ids = ids.tolist()
        return tries[row].allowed(ids[1:] if ids and ids[0] == start else ids)

    common = dict(num_beams=6, num_return_sequences=6, max_new_tokens=paths.shape[2] + 2, output_scores=True,
                  return_dict_in_generate=True, early_stopping=True, do_sample=False)
    by_trie = model.generate(batch, prefix_allowed_tokens_fn=allowed, **common)
    by_paths = model.generate(batch, logits_processor=LogitsProcessorList([CandidatePaths(paths, 6, eos)]), **common)
    assert torch.equal(by_paths.sequences, by_trie.sequences)
    assert torch.equal(by_paths.sequences_scores, by_trie.sequences_scores)
    free = model.generate(batch, **common)
    assert not torch.equal(free.sequences, by_trie.sequences)  # the restriction bites on this model
    for row, sequences in enumerate(by_paths.sequences.view(4, 6, -1)):
        for sequence in sequences:
            tokens = [int(t) for t in sequence[1:] if int(t) != model.t5.config.pad_token_id]
            assert tries[row].item_of(tokens[:-1] if tokens and tokens[-1] == eos else tokens) is not None, tokens
