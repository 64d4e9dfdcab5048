"""Invariants of the scoring and validation paths that a plausible bug would break without an error
(issue 39's broken copies): beam scores equal the exact score of the returned sequence with the
copy head on; scoring split into groups equals unsplit scoring; the copy attention is the stated
formula; validation scores and losses read every user's own candidates and count only real target
tokens, across batches of different padding."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from peapod.generator.data import Batches
from peapod.generator.model import CopyHead, CopySource

from tests.generator_helpers import small_generator_inputs, small_model, templates


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    return small_generator_inputs(tmp_path_factory.mktemp("small"))


def copy_head_model(small, item_tokens: str):
    """A tiny PeaPOD with the copy head at its random initialisation (query, key and gate all
    non-trivial) and one validation batch of top-n prompts."""
    model, tok, cfg = small_model(small, item_tokens=item_tokens, copy_head=True)
    assert model.copy_head.query.weight.abs().sum() > 0 and model.copy_head.key.weight.abs().sum() > 0
    batch = {k: v[:3] for k, v in Batches(small[0], tok, templates(), cfg, seed=0).validation().batches["topn"][0].items()}
    return model, tok, batch


def returned_labels(sequences: torch.Tensor, eos: int) -> torch.Tensor:
    """The returned sequences (start token dropped) as score_candidates' labels: -100 after EOS."""
    labels = sequences[:, 1:].clone()
    ended = (labels == eos).long().cumsum(1)
    after_eos = (ended - (labels == eos).long()) > 0
    return labels.masked_fill(after_eos, -100)


@pytest.mark.parametrize("item_tokens", ["digits", "independent"])  # several tokens per item, or one
def test_beam_scores_equal_the_exact_score_of_the_returned_sequence(small, item_tokens):
    """Without a length penalty a beam's score is the sum of its tokens' log-probabilities, so it
    must equal ``score_candidates`` on the very sequence it returned: beam search (the head called
    on B x beams rows, one token at a time, keys cached) and teacher-forced scoring (B rows, all
    tokens at once) reach the copy head by different shapes. Several prompts, several beams."""
    model, tok, batch = copy_head_model(small, item_tokens)
    B, beams = batch["input_ids"].shape[0], 4
    out = model.generate(batch, num_beams=beams, num_return_sequences=beams, max_new_tokens=5, length_penalty=0.0,
                         output_scores=True, return_dict_in_generate=True)
    labels = returned_labels(out.sequences, tok.eos_token_id).view(B, beams, -1)
    assert (labels != -100).sum(-1).max() > 1  # sequences of more than one token
    exact = model.score_candidates(batch, labels)  # (B, beams)
    assert torch.allclose(out.sequences_scores.view(B, beams), exact, atol=1e-4), \
        (out.sequences_scores.view(B, beams) - exact).abs().max()


def test_scoring_split_into_groups_equals_unsplit_scoring_with_the_copy_head(small):
    """A memory budget below one prompt's working memory scores prompt by prompt: each group's
    copy source must be that group's rows."""
    model, tok, batch = copy_head_model(small, "digits")
    val = Batches(small[0], tok, templates(), model.cfg, seed=0).validation()
    labels = val.item_labels[torch.from_numpy(val.topn_candidates[:3, :20])]
    whole = model.score_candidates(batch, labels)
    split = model.score_candidates(batch, labels, memory_mib=1e-3)
    assert torch.allclose(split, whole, atol=1e-5), (split - whole).abs().max()
    assert torch.allclose(whole, model.score_candidates_naive(batch, labels), atol=1e-4)


def test_copy_head_is_the_pointer_generator_formula_by_hand():
    """One prompt, non-zero query and key: the attention is softmax(q . k / sqrt(d)) over the
    copyable positions, the copied mass of a token is the attention on the positions holding it,
    and the gate mixes it with the vocabulary's softmax (See et al., 2017), written out here."""
    torch.manual_seed(3)
    d, V = 4, 7
    head = CopyHead(d)
    hidden = torch.randn(1, 2, d)  # two decoder positions
    encoded = torch.randn(1, 5, d)
    token_ids = torch.tensor([[0, 3, 5, 3, 2]])
    copyable = torch.tensor([[False, True, True, True, False]])  # a prompt vector, then tokens, a pad
    vocab_logits = torch.randn(1, 2, V)
    with torch.no_grad():
        got = head(vocab_logits, hidden, CopySource(encoded, token_ids, copyable)).exp()
        q, k = hidden[0] @ head.query.weight.T, encoded[0] @ head.key.weight.T
        gate = torch.sigmoid(hidden[0] @ head.gate.weight.T + head.gate.bias)  # (2, 1)
    for t in range(2):
        scores = [float(q[t] @ k[s]) / math.sqrt(d) for s in range(5)]
        weights = [math.exp(scores[s]) if copyable[0, s] else 0.0 for s in range(5)]
        attention = [w / sum(weights) for w in weights]
        copied = [sum(a for a, w in zip(attention, token_ids[0].tolist()) if w == v) for v in range(V)]
        vocabulary = torch.softmax(vocab_logits[0, t], -1).tolist()
        g = float(gate[t])
        expected = torch.tensor([g * vocabulary[v] + (1 - g) * copied[v] for v in range(V)])
        assert torch.allclose(got[0, t], expected, atol=1e-6), (t, got[0, t], expected)
        assert copied[3] > 0 and copied[0] == 0  # copied from two positions; never from a prompt vector


def two_validations(small, **overrides):
    """The same fixed validation prompts batched 8 at a time (several batches of different padding)
    and one prompt at a time (the reference: no padding, no batch boundary)."""
    model, tok, cfg = small_model(small, validation_users=24, **overrides)
    many = Batches(small[0], tok, templates(), cfg.with_overrides({"eval_batch_size": 8}), seed=0).validation()
    single = Batches(small[0], tok, templates(), cfg.with_overrides({"eval_batch_size": 1}), seed=0).validation()
    return model, many, single


def test_validation_scores_read_each_users_own_candidates_across_batches(small):
    """``train.score_topn`` over several batches equals each prompt scored alone against its own
    candidates (a batch after the first must not read the first batch's users)."""
    from peapod.generator.train import score_topn

    model, many, single = two_validations(small)
    assert len(many.batches["topn"]) > 2
    scores = score_topn(model, many, torch.device("cpu"))
    reference = torch.cat([
        model.score_candidates(batch, single.item_labels[torch.from_numpy(single.topn_candidates[[u]])])
        for u, batch in enumerate(single.batches["topn"])]).numpy()
    assert scores.shape == reference.shape == single.topn_candidates.shape
    assert abs(scores - reference).max() < 1e-4, abs(scores - reference).max()


@pytest.mark.parametrize("overrides", [{}, {"copy_head": True, "item_tokens": "independent"}])
def test_validation_loss_is_the_mean_over_real_target_tokens(small, overrides):
    """``train.validation_losses``: per task, the summed cross-entropy of every real target token
    over their number, however the prompts are batched and padded; computed here one prompt at a
    time from the forward pass's log-probabilities."""
    from peapod.generator.train import validation_losses

    model, many, single = two_validations(small, **overrides)
    padded = [b for bs in many.batches.values() for b in bs if (b["labels"] == -100).any()]
    assert padded, "no validation batch with padded targets: the check would not see padding"
    got = validation_losses(model, many, torch.device("cpu"))
    for task, batches in single.batches.items():
        total, count = 0.0, 0
        for batch in batches:
            with torch.no_grad():
                logits = model(batch).logits[0]
            real = batch["labels"][0] != -100
            total -= float(F.log_softmax(logits.double(), -1)[real].gather(
                -1, batch["labels"][0][real][:, None]).sum())
            count += int(real.sum())
        assert got[task] == pytest.approx(total / count, rel=1e-5), task


def test_learning_check_reads_each_users_own_target_across_batches(small):
    """``validation.learning_check`` on a probe batched 4 at a time: a model made to put each user's
    own validation target first (one token per item; a hook on the output layer) hits it for every
    user of every batch, so HR@10 by beams is 1 for both tasks and the top-n beams sit inside the
    prompts' own candidates. A batch read against another batch's targets would miss."""
    from peapod.generator.data import Validation
    from peapod.generator.validation import learning_check

    model, tok, cfg = small_model(small, item_tokens="independent")
    b = Batches(small[0], tok, templates(), cfg.with_overrides({"eval_batch_size": 4}), seed=0)
    probe = Validation.build(b, 12, ("sequential", "topn"))
    assert all(len(probe.batches[task]) == 3 for task in ("sequential", "topn"))
    wanted = {}  # (task id, user) -> the token of that user's target item
    for task in ("sequential", "topn"):
        users = torch.cat([batch["user_ids"] for batch in probe.batches[task]]).tolist()
        for user, item in zip(users, probe.targets[task].tolist()):
            wanted[(int(probe.batches[task][0]["task_ids"][0]), user)] = tok.convert_tokens_to_ids(f"item_{item}")
    start, now = model.t5.config.decoder_start_token_id, {}
    generate = model.generate

    def remembering(batch, **kwargs):  # which prompts' beams the output layer is scoring
        now["tokens"] = torch.tensor([wanted[(int(t), int(u))] for t, u in zip(batch["task_ids"], batch["user_ids"])]
                                     ).repeat_interleave(kwargs["num_beams"])
        return generate(batch, **kwargs)

    def boost(module, args, out):  # first step: the user's target item; then the end
        if out.shape[1] != 1 or out.shape[0] != len(now["tokens"]):
            return out  # teacher-forced scoring: untouched
        first = (now["last"] == start)[:, None]
        bias = torch.zeros_like(out[:, 0])
        bias[torch.arange(len(bias)), now["tokens"]] = 40.0
        ending = torch.zeros_like(bias)
        ending[:, tok.eos_token_id] = 40.0
        return out + torch.where(first, bias, ending)[:, None]

    model.generate = remembering
    hooks = [model.t5.decoder.register_forward_pre_hook(
        lambda mod, args, kwargs: now.update(last=kwargs["input_ids"][:, -1]), with_kwargs=True),
        model.t5.lm_head.register_forward_hook(boost)]
    try:
        point = learning_check(model, probe, tok, b.catalogue, 10, torch.device("cpu"))
    finally:
        for hook in hooks:
            hook.remove()
    assert point["valid_hr10_sequential_beam"] == 1.0 and point["valid_hr10_topn_beam"] == 1.0, point
    assert point["valid_topn_beam_in_candidates"] >= 0.1, point  # the first of ten beams, at least
