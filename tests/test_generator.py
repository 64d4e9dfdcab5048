"""Generator units: whole-word ids on several tokenizers, encoder input shapes and masks, the user
prompt's dependence on neighbours, samplers, candidate scoring, checkpoints, config."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
import yaml

from peapod.errors import InputError
from peapod.generator.backbone import BackboneMissing, load_backbone
from peapod.generator.checkpoint import load_model_dir, save_model_dir
from peapod.generator.collab import load_collaborative_inputs
from peapod.generator.config import TASKS, GeneratorConfig, variant_config
from peapod.generator.data import Batches, Templates
from peapod.generator.model import PeaPOD
from peapod.generator.reference import use_hugging_face_forward
from peapod.generator.tokenization import ID_WORD, encode_with_whole_words, train_tokenizer
from tests.generator_helpers import TINY, small_generator_inputs, small_model, templates
from tests.helpers import REPO, assert_same_state_dict

TEXT = "generate for user_12 about item_345: then item_6, item_78? user_9 item_1000 and user_23item"


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    return small_generator_inputs(tmp_path_factory.mktemp("small"))


# ---- whole-word ids ------------------------------------------------------------------------------
def _corpus():
    return [TEXT, "the scent is great", "user_1 item_2 item_33 item_444", "which item for user_5?"] * 30


def _tokenizers():
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    def wrap(tok):
        return PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", pad_token="<pad>")

    unigram = Tokenizer(models.Unigram())  # T5/SentencePiece style: Metaspace words, no digit split
    unigram.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    unigram.train_from_iterator(_corpus(), trainers.UnigramTrainer(vocab_size=120, special_tokens=["<pad>", "<unk>"],
                                                                   unk_token="<unk>", show_progress=False))
    wordpiece = Tokenizer(models.WordPiece(unk_token="<unk>"))  # BERT style: splits at "_" and punctuation
    wordpiece.normalizer = normalizers.Lowercase()
    wordpiece.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    wordpiece.train_from_iterator(_corpus(), trainers.WordPieceTrainer(vocab_size=150, special_tokens=["<pad>", "<unk>"],
                                                                       show_progress=False))
    bytelevel = Tokenizer(models.BPE())  # GPT-2 style byte-level BPE (spaces inside tokens)
    bytelevel.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
    bytelevel.train_from_iterator(_corpus(), trainers.BpeTrainer(vocab_size=300, special_tokens=["<pad>", "<unk>"],
                                                                 initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                                                 show_progress=False))
    return {"local": train_tokenizer(_corpus(), 200), "t5-style unigram": wrap(unigram),
            "wordpiece": wrap(wordpiece), "byte-level bpe": wrap(bytelevel)}


@pytest.mark.parametrize("name", ["local", "t5-style unigram", "wordpiece", "byte-level bpe"])
def test_whole_word_ids_follow_the_id_words(name):
    tok = _tokenizers()[name]
    enc = tok([TEXT], return_offsets_mapping=True)
    offsets = enc["offset_mapping"][0]
    ids, words = encode_with_whole_words(tok, [TEXT])
    assert np.array_equal(ids[0], enc["input_ids"][0])
    expected = [m.group() for m in ID_WORD.finditer(TEXT)]
    assert expected == ["user_12", "item_345", "item_6", "item_78", "user_9", "item_1000"]  # not "user_23item"
    for k, word in enumerate(expected, start=1):
        pieces = [TEXT[s:e] for (s, e), w in zip(offsets, words[0]) if w == k]
        assert "".join(pieces).strip().lstrip("▁") == word, (name, k, pieces)
    other = "".join(TEXT[s:e] for (s, e), w in zip(offsets, words[0]) if w == 0)
    for word in expected:
        assert word not in other
    assert words[0].max() == len(expected)


def test_whole_word_ids_are_clipped_to_the_table():
    tok = train_tokenizer(_corpus(), 200)
    text = " ".join(f"item_{i}" for i in range(1, 12))
    ids, words = encode_with_whole_words(tok, [text], size=5)
    # Word k (1-based) of the text gets id k until the table's last row, 4; later words share it.
    # Derived from the tokens themselves: a token starting with the word marker begins a word.
    pieces = tok.convert_ids_to_tokens(ids[0].tolist())
    expected, word = [], 0
    for piece in pieces:
        if piece in tok.all_special_tokens:
            expected.append(0)
            continue
        if piece.startswith("\u2581"):
            word += 1
        expected.append(min(word, 4))
    assert words[0].tolist() == expected
    assert expected.count(1) > 0 and expected.count(4) > expected.count(3)


# ---- model: shapes, masks, user prompt -------------------------------------------------------------
def test_encoder_input_shapes_and_masks(small):
    data = small[0]
    model, tok, cfg = small_model(small)
    batches = Batches(data, tok, templates(), cfg, seed=0)
    plan = batches.epoch_plan(0)
    for k in range(3):  # one batch per task
        batch = batches.build(0, k, plan[k])
        B, T = batch["input_ids"].shape
        assert batch["task_ids"].unique().numel() == 1 and int(batch["task_ids"][0]) == k
        embeds, mask = model.encoder_inputs(batch)
        P = cfg.task_prompt_length + cfg.prompt_length
        assert embeds.shape == (B, P + T, model.t5.config.d_model)
        assert torch.equal(mask[:, :P], torch.ones(B, P, dtype=mask.dtype))
        assert torch.equal(mask[:, P:], batch["attention_mask"])
        lengths = batch["attention_mask"].sum(1)
        assert lengths.min() < T or k == 0 or B == 1  # the batch does contain padding
        assert torch.all((batch["input_ids"] == 0) == (batch["attention_mask"] == 0))
        assert torch.all((batch["whole_word_ids"] > 0) <= (batch["attention_mask"] > 0))
        assert torch.all((batch["labels"] == -100) == (torch.arange(batch["labels"].shape[1]) >= (batch["labels"] != -100).sum(1, keepdim=True)))


def test_padding_changes_nothing_and_pads_are_out_of_the_loss(small):
    data = small[0]
    model, tok, cfg = small_model(small)
    batches = Batches(data, tok, templates(), cfg, seed=0)
    batch = batches.build(0, 2, batches.epoch_plan(0)[2])  # top-n: long inputs, padded
    padded = dict(batch)
    extra = 7
    for key in ("input_ids", "attention_mask", "whole_word_ids"):
        padded[key] = torch.nn.functional.pad(batch[key], (0, extra))
    padded["labels"] = torch.nn.functional.pad(batch["labels"], (0, 3), value=-100)
    with torch.no_grad():
        base, more = model(batch), model(padded)
    assert torch.allclose(base.loss, more.loss, atol=1e-5)  # encoder and cross-attention masks hold
    logits, labels = base.logits, batch["labels"]
    manual = torch.nn.functional.cross_entropy(logits[labels != -100], labels[labels != -100])
    assert torch.allclose(base.loss, manual, atol=1e-5)
    # Released-code defect 2 (no encoder mask in cross-attention) makes padding leak in:
    leaky = copy.copy(model)
    leaky.cfg = GeneratorConfig.from_dict({**cfg.to_dict(), "decoder_encoder_mask": False})
    with torch.no_grad():
        assert not torch.allclose(leaky(batch).loss, leaky(padded).loss, atol=1e-5)


def test_user_prompt_depends_on_the_neighbours(small):
    model, _, _ = small_model(small)
    users = torch.tensor([3, 7])
    before = model.user_prompt_vectors(users)
    assert before.shape == (2, 3, model.t5.config.d_model)
    other = int(model.neighbor_ids[7, 0]) % 50 + 1
    while other in model.neighbor_ids[3].tolist() or other == 3:
        other += 1
    model.neighbor_ids[3, 0] = other
    after = model.user_prompt_vectors(users)
    assert not torch.allclose(before[0], after[0])  # user 3 changed
    assert torch.allclose(before[1], after[1])  # user 7 did not


def test_mlp_prompt_ignores_neighbours_and_pod_has_no_user_prompt(small):
    mlp, _, _ = small_model(small, user_prompt="mlp")
    before = mlp.user_prompt_vectors(torch.tensor([3]))
    mlp.neighbor_ids[3] = torch.roll(mlp.neighbor_ids[3], 1) + 0
    mlp.neighbor_ids[3, 0] = 11
    assert torch.allclose(before, mlp.user_prompt_vectors(torch.tensor([3])))
    pod, _, cfg = small_model(small, user_prompt="none")
    assert pod.user_prompt is None and pod.n_prompt_positions == cfg.task_prompt_length
    none_at_all, _, _ = small_model(small, user_prompt="none", task_prompt_length=0)
    assert none_at_all.n_prompt_positions == 0 and none_at_all.task_prompts is None


def test_candidate_scoring_matches_a_full_forward_per_candidate(small):
    data = small[0]
    model, tok, cfg = small_model(small)
    val = Batches(data, tok, templates(), cfg, seed=0).validation()
    batch = {k: v[:4] for k, v in val.batches["topn"][0].items()}
    labels = val.item_labels[torch.from_numpy(val.topn_candidates[:4])]
    assert labels.shape[:2] == (4, 100)
    fast = model.score_candidates(batch, labels)
    slow = model.score_candidates_naive(batch, labels)
    assert torch.allclose(fast, slow, atol=1e-4), (
        f"transformers {transformers_version()}: packed candidate scoring (one decoder pass per prompt, "
        "block-diagonal 4D decoder_attention_mask) no longer equals one forward pass per candidate "
        f"(max difference {(fast - slow).abs().max():.3g}). PeaPOD.score_candidates relies on T5 using a 4D "
        "decoder mask as given and on T5Attention.compute_bias depending only on offsets (see its "
        "docstring): test_t5_passes_a_4d_decoder_mask_unchanged and "
        "test_t5_decoder_position_bias_depends_only_on_offsets check those directly; if both pass, the "
        "attention function changed how it applies a boolean mask (integrations.sdpa_attention."
        "create_position_bias_mask: where(mask, position_bias, finfo.min) in 5.23.0).")
    # A budget below one prompt's working memory scores prompt by prompt, with the same result;
    # a budget of two prompts' memory, two at a time.
    from peapod.generator.model import scoring_bytes_per_prompt

    from peapod.generator import lean_t5

    groups = []
    decoder = lean_t5.decoder_hidden
    lean_t5.decoder_hidden = lambda t5, embeds, *rest, **kw: groups.append(embeds.shape[0]) or decoder(
        t5, embeds, *rest, **kw)
    try:
        assert torch.allclose(model.score_candidates(batch, labels, memory_mib=1e-3), fast, atol=1e-5)
        two = 2 * scoring_bytes_per_prompt(model.t5.config, 100, labels.shape[2], batch["input_ids"].shape[1] + 6)
        model.score_candidates(batch, labels, memory_mib=two / 2**20)
    finally:
        lean_t5.decoder_hidden = decoder
    assert groups == [1, 1, 1, 1, 2, 2]
    # The true item's teacher-forced log-likelihood is the negative summed loss of its target.
    true = val.topn_target_index[:4]
    with torch.no_grad():
        out = model(batch)
    per_row = torch.nn.functional.cross_entropy(out.logits.transpose(1, 2), batch["labels"], reduction="none").sum(1)
    assert torch.allclose(fast[torch.arange(4), torch.from_numpy(true)], -per_row, atol=1e-4)


def transformers_version() -> str:
    import transformers

    return transformers.__version__


def packed_mask(C: int, L: int) -> torch.Tensor:
    """The block-diagonal causal (C * L, C * L) mask of C packed candidates of L tokens, True =
    may attend: built here independently of PeaPOD.score_candidates."""
    mask = torch.zeros(C * L, C * L, dtype=torch.bool)
    for c in range(C):
        mask[c * L:(c + 1) * L, c * L:(c + 1) * L] = torch.ones(L, L, dtype=torch.bool).tril()
    return mask


def test_t5_passes_a_4d_decoder_mask_unchanged(small):
    """Guards a transformers internal that packed scoring relies on (checked in 5.23.0): the 4D
    ``decoder_attention_mask`` given to T5ForConditionalGeneration reaches every decoder
    self-attention (``T5Attention.forward``'s ``mask``) as given, because
    ``masking_utils.create_causal_mask`` returns a 4D mask as-is instead of building its own."""
    data = small[0]
    model, tok, cfg = small_model(small)
    use_hugging_face_forward(model, True)  # the reference path (tests/test_lean_t5.py compares the two)
    val = Batches(data, tok, templates(), cfg, seed=0).validation()
    batch = {k: v[:2] for k, v in val.batches["topn"][0].items()}
    labels = val.item_labels[torch.from_numpy(val.topn_candidates[:2, :5])]  # 2 prompts, 5 candidates
    B, C, L = labels.shape
    seen = []
    hooks = [block.layer[0].SelfAttention.register_forward_pre_hook(
        lambda module, args, kwargs: seen.append(kwargs.get("mask", "no `mask` argument")), with_kwargs=True)
        for block in model.t5.decoder.block]
    try:
        model.score_candidates(batch, labels)
    finally:
        for hook in hooks:
            hook.remove()
    expected = packed_mask(C, L).expand(B, 1, C * L, C * L)
    problem = (f"transformers {transformers_version()}: T5's decoder no longer uses a 4D "
               "decoder_attention_mask as given. In 5.23.0 T5Stack.forward -> "
               "masking_utils.create_causal_mask -> _preprocess_mask_arguments returned a 4D mask as-is, "
               "and T5Attention.forward received it unchanged as `mask`. PeaPOD.score_candidates packs "
               "each prompt's candidates into one decoder sequence and relies on that block-diagonal mask; "
               "packed scores may now be wrong. "
               "Found at the decoder self-attentions: ")
    assert len(seen) == len(model.t5.decoder.block), problem + f"{len(seen)} calls for {len(hooks)} layers"
    for got in seen:
        detail = got if isinstance(got, str) or got is None else \
            f"{got.dtype} mask of shape {tuple(got.shape)}"
        assert isinstance(got, torch.Tensor) and got.dtype == torch.bool and got.shape == expected.shape, \
            problem + str(detail)
        assert torch.equal(got, expected), problem + f"a {detail} that differs from the one given at " \
            f"{int((got != expected).sum())} positions"


def test_t5_decoder_position_bias_depends_only_on_offsets(small):
    """Guards the other transformers internal packed scoring relies on (checked in 5.23.0):
    ``T5Attention.compute_bias`` of the decoder depends on key - query offsets only, so every
    diagonal block of a packed sequence gets the bias of a sequence of its own."""
    model, _, _ = small_model(small)
    attention = model.t5.decoder.block[0].layer[0].SelfAttention
    C, L = 4, 7
    problem = (f"transformers {transformers_version()}: T5Attention.compute_bias (the decoder's relative "
               "position bias) no longer depends on offsets only; in 5.23.0 it was a function of "
               "memory_position - context_position alone. PeaPOD.score_candidates packs candidates at "
               "offsets c * L of one decoder sequence and relies on each block seeing the bias of a sequence "
               "of its own; packed scores may now be wrong. ")
    assert getattr(attention, "has_relative_attention_bias", False), problem + "layer 0 has no relative bias"
    try:
        packed = attention.compute_bias(C * L, C * L)
        single = attention.compute_bias(L, L)
    except Exception as error:  # a changed signature is a changed internal too
        pytest.fail(problem + f"Calling compute_bias(query_length, key_length) failed: {error!r}")
    assert packed.shape[-2:] == (C * L, C * L) and single.shape[-2:] == (L, L), \
        problem + f"compute_bias shapes {tuple(packed.shape)}, {tuple(single.shape)}"
    for c in range(C):
        block = packed[..., c * L:(c + 1) * L, c * L:(c + 1) * L]
        assert torch.equal(block, single), \
            problem + f"block {c} (offset {c * L}) differs from a lone sequence"


def test_scoring_honours_the_decoder_encoder_mask_switch(small):
    """Defect 2 reproduced (decoder attends to encoder pads): scoring still equals one full forward
    per candidate with the same switch, and differs from the masked model on padded rows."""
    data = small[0]
    model, tok, cfg = small_model(small, decoder_encoder_mask=False)
    masked, _, _ = small_model(small)
    val = Batches(data, tok, templates(), cfg, seed=0).validation()
    batch = {k: v[:4] for k, v in val.batches["topn"][0].items()}
    for key in ("input_ids", "attention_mask", "whole_word_ids"):  # pad rows 0-1 as a longer row would
        batch[key] = torch.cat([batch[key], torch.zeros(4, 6, dtype=torch.long)], dim=1)
    batch["attention_mask"][2:, -6:] = 1
    batch["input_ids"][2:, -6:] = batch["input_ids"][2:, :6]
    labels = val.item_labels[torch.from_numpy(val.topn_candidates[:4])]
    fast = model.score_candidates(batch, labels, memory_mib=0.5)
    assert torch.allclose(fast, model.score_candidates_naive(batch, labels), atol=1e-4), \
        "packed scoring differs from one forward pass per candidate: see the message of " \
        "test_candidate_scoring_matches_a_full_forward_per_candidate"
    assert not torch.allclose(fast, masked.score_candidates(batch, labels), atol=1e-4)


def test_generate_honours_the_decoder_encoder_mask_switch(small):
    """generate's first-step scores equal the forward pass's first-step logits under either
    setting of decoder_encoder_mask (the released code's defect 2 when false)."""
    data = small[0]
    for switch in (True, False):
        model, tok, cfg = small_model(small, decoder_encoder_mask=switch)
        val = Batches(data, tok, templates(), cfg, seed=0).validation()
        batch = {k: v[:6] for k, v in val.batches["sequential"][0].items()}
        assert (batch["attention_mask"] == 0).any()
        out = model.generate(batch, max_new_tokens=1, do_sample=False, output_logits=True,
                             return_dict_in_generate=True)
        with torch.no_grad():
            logits = model(batch, labels=torch.zeros(6, 1, dtype=torch.long)).logits[:, 0]
        assert torch.allclose(out.logits[0], logits, atol=1e-4), switch


def test_logits_stay_float32_under_bf16_autocast(small):
    """bf16 logits tie close candidates: the output layer runs in float32 even under autocast.
    Checked on the values, not the dtype: a bf16 product cast to float32 afterwards has the right
    dtype but only bf16's 8 significant bits."""
    data = small[0]
    model, tok, cfg = small_model(small)
    val = Batches(data, tok, templates(), cfg, seed=0).validation()
    batch = {k: v[:2] for k, v in val.batches["topn"][0].items()}
    labels = val.item_labels[torch.from_numpy(val.topn_candidates[:2])]
    hidden = []
    hook = model.t5.lm_head.register_forward_pre_hook(lambda module, args: hidden.append(args[0]))
    try:
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
            logits = model(batch).logits
            scores = model.score_candidates(batch, labels)
    finally:
        hook.remove()
    assert logits.dtype == scores.dtype == torch.float32
    # Not bf16 values in float32 clothing:
    assert not torch.equal(logits, logits.bfloat16().float())
    assert not torch.equal(scores, scores.bfloat16().float())
    # The head's float32 product of the same hidden states, within float32 rounding (a bf16
    # product is off by ~1e-2 here):
    reference = hidden[0].float() @ model.t5.lm_head.weight.float().T
    assert (logits - reference).abs().max() < 1e-5
    # Full float32 precision: far fewer exact ties among 100 candidates than bf16 would leave.
    assert len(torch.unique(scores[0])) > 90


def test_generate_passes_through(small):
    """generate decodes what the model's forward pass (the trained path: task and user prompts,
    whole-word ids, both masks) predicts, and hands the decoding arguments on to the backbone."""
    data = small[0]
    model, tok, cfg = small_model(small)
    with torch.no_grad():  # an untrained model says the same token everywhere: give its output layer opinions
        head = model.t5.lm_head.weight
        head.add_(torch.randn(head.shape, generator=torch.Generator().manual_seed(1)))
    val = Batches(data, tok, templates(), cfg, seed=0).validation()
    batch = {k: v[:6] for k, v in val.batches["sequential"][0].items()}
    assert (batch["attention_mask"] == 0).any()  # padded rows: the masks matter
    steps = 4
    greedy = model.generate(batch, max_new_tokens=steps, min_new_tokens=steps, do_sample=False, num_beams=1,
                            output_logits=True, return_dict_in_generate=True)
    # The reference: greedy decoding by hand through forward, one full pass per step (the decoder
    # reads the labels shifted right, so labels = prefix without its start token, plus one).
    prefix = torch.full((6, 1), model.t5.config.decoder_start_token_id)
    with torch.no_grad():
        for step in range(steps):
            labels = torch.cat([prefix[:, 1:], torch.zeros(6, 1, dtype=torch.long)], dim=1)
            logits = model(batch, labels=labels).logits[:, -1]
            assert torch.allclose(greedy.logits[step], logits, atol=1e-4), step
            prefix = torch.cat([prefix, logits.argmax(-1, keepdim=True)], dim=1)
    assert torch.equal(greedy.sequences, prefix)
    assert len({tuple(row) for row in prefix[:, 1:].tolist()}) > 1  # the prompts lead to different outputs
    # Beam search: the backbone's own generate on the same encoder input and mask, same arguments.
    kwargs = dict(max_new_tokens=4, num_beams=3, num_return_sequences=3, do_sample=False)
    out = model.generate(batch, **kwargs)
    encoder_outputs, mask = model.encode(batch)
    with torch.no_grad():
        direct = model.t5.generate(encoder_outputs=encoder_outputs, attention_mask=mask, **kwargs)
    assert out.shape[0] == 18 and out.shape[1] <= 5
    assert torch.equal(out, direct)
    for row in out.view(6, 3, -1).tolist():  # three distinct beams per prompt
        assert len({tuple(beam) for beam in row}) == 3


# ---- samplers ------------------------------------------------------------------------------------
def test_samplers_follow_the_protocol(small):
    data = small[0]
    _, tok, cfg = small_model(small)
    batches = Batches(data, tok, templates(), cfg, seed=0)
    rng = np.random.default_rng(0)
    for _ in range(200):
        unit = int(rng.integers(len(batches.seq_users)))
        user, text, target, _ = batches.training_sample(TASKS.index("sequential"), unit, rng)
        items = data.sequences[user]
        history = [int(w[5:]) for w in ID_WORD.findall(text) if w.startswith("item_")]
        target_item = int(tok.decode(target, skip_special_tokens=True).strip())
        assert target_item in items[:-2].tolist() and 1 <= len(history) <= cfg.max_history
        pos = items.tolist().index(target_item)
        assert history == items[pos - len(history) : pos].tolist()  # a contiguous window before the target
        user, text, target, _ = batches.training_sample(TASKS.index("topn"), unit, rng)
        candidates = [int(w[5:]) for w in ID_WORD.findall(text) if w.startswith("item_")]
        positive = int(tok.decode(target, skip_special_tokens=True).strip())
        assert len(candidates) == 100 == len(set(candidates)) and positive in candidates
        assert positive in data.sequences[user][:-2]
        assert not set(candidates) - {positive} & set(data.sequences[user].tolist())


def test_epoch_plan_alternates_tasks_and_is_seeded(small):
    data = small[0]
    _, tok, cfg = small_model(small)
    batches = Batches(data, tok, templates(), cfg, seed=0)
    plan = batches.epoch_plan(0)
    tasks = [{t for t, _ in entry} for entry in plan]
    assert all(len(t) == 1 for t in tasks)
    n = batches.batches_per_task()
    assert n == {"explanation": len(data.explanations["train"]["user"]) // 8, "sequential": len(batches.seq_users) // 8,
                 "topn": len(batches.topn_users) // 8}
    # Strict rotation for the whole epoch; its length is the protocol's sum of floors.
    assert [next(iter(t)) for t in tasks] == [k % 3 for k in range(len(plan))]
    assert len(plan) == sum(n.values()) == batches.epoch_length()
    assert plan == Batches(data, tok, templates(), cfg, seed=0).epoch_plan(0)
    assert plan != batches.epoch_plan(1)
    built = batches.build(0, 4, plan[4])
    again = Batches(data, tok, templates(), cfg, seed=0).build(0, 4, plan[4])
    assert all(torch.equal(built[k], again[k]) for k in built)
    mixed = Batches(data, tok, templates(), GeneratorConfig.from_dict({**cfg.to_dict(), "batching": "mixed"}), 0)
    assert any(len({t for t, _ in e}) > 1 for e in mixed.epoch_plan(0))


def test_rotation_lasts_the_whole_epoch_and_recommendation_users_are_drawn_again(small):
    """More explanations than users (as on every real dataset): the old plan trained explanation
    alone once sequential and top-n ran out; the protocol rotates to the end, each task a third."""
    data = small[0]
    _, tok, cfg = small_model(small)
    batches = Batches(data, tok, templates(), cfg, seed=0)
    n_users = len(batches.seq_users)
    batches.units["explanation"] = 5 * n_users  # pretend: five explanations per user
    data.explanations["train"] = {k: np.resize(v, 5 * n_users) for k, v in data.explanations["train"].items()}
    B = cfg.batch_size
    plan = batches.epoch_plan(3)
    per_task = {t: [e for e in plan if e[0][0] == t] for t in range(3)}
    expected_length = 5 * n_users // B + len(batches.seq_users) // B + len(batches.topn_users) // B
    assert len(plan) == expected_length
    assert [e[0][0] for e in plan] == [k % 3 for k in range(len(plan))]
    counts = [len(per_task[t]) for t in range(3)]
    assert max(counts) - min(counts) <= 1 and counts[0] == -(-len(plan) // 3)
    for t, name in enumerate(TASKS):
        units = [j for e in per_task[t] for _, j in e]
        assert all(task == t for e in per_task[t] for task, _ in e)
        n = batches.units[name]
        seen = np.bincount(units, minlength=n)
        # Every unit drawn once per pass over the task's units, passes only as many as needed.
        assert seen.max() - seen.min() <= 1 and seen.max() == -(-len(units) // n)
    assert seen.max() > 1  # top-n: its third of the epoch needs more than one pass over the users


def test_without_explanations_the_two_recommendation_tasks_alternate(small):
    data = small[0]
    _, tok, cfg = small_model(small, tasks=["sequential", "topn"])
    batches = Batches(data, tok, templates(), cfg, seed=0)
    plan = batches.epoch_plan(0)
    assert [e[0][0] for e in plan] == [1 + k % 2 for k in range(len(plan))]
    assert len(plan) == len(batches.seq_users) // cfg.batch_size + len(batches.topn_users) // cfg.batch_size


def test_validation_is_fixed_across_run_seeds(small):
    data = small[0]
    _, tok, cfg = small_model(small)
    a = Batches(data, tok, templates(), cfg, seed=0).validation()
    b = Batches(data, tok, templates(), cfg, seed=5).validation()
    assert np.array_equal(a.topn_candidates, b.topn_candidates)
    for task in a.batches:
        assert all(torch.equal(x[k], y[k]) for x, y in zip(a.batches[task], b.batches[task]) for k in x)
    rows = np.arange(len(a.topn_candidates))
    valid_targets = a.topn_candidates[rows, a.topn_target_index]
    users = sorted(data.valid_candidates)
    assert valid_targets.tolist() == [data.valid_candidates[u][0] for u in users]


# ---- files, checkpoints, config ------------------------------------------------------------------
def test_collaborative_inputs_are_dense_and_checked(small, tmp_path):
    data, truth, emb, nbr = small
    table, neighbors = load_collaborative_inputs(emb, nbr, 4, data.n_users)
    assert table.shape == (data.n_users + 1, 8) and neighbors.shape == (data.n_users + 1, 4)
    assert not table[0].any() and (neighbors[1:] >= 1).all() and (neighbors[1:, 0] != np.arange(1, data.n_users + 1)).all()
    with pytest.raises(InputError, match="stores 6 neighbours per user, 7 are configured"):
        load_collaborative_inputs(emb, nbr, 7, data.n_users)
    with pytest.raises(InputError, match="missing"):
        load_collaborative_inputs(emb, nbr, 4, data.n_users + 3)


def test_templates_are_checked(tmp_path):
    raw = yaml.safe_load((REPO / "config" / "templates.yaml").read_text())
    assert len(raw["explanation"]["train"]) == 9 and len(raw["sequential"]["train"]) == 8 and len(raw["topn"]["train"]) == 5
    for task in TASKS:
        assert raw[task]["eval"] in raw[task]["train"]
    raw["sequential"]["train"][2] = "user_{user} bought item_{item}"
    path = tmp_path / "templates.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(InputError, match=r"sequential.train\[2\]"):
        Templates.load(path)


def test_checkpoint_round_trip(small, tmp_path):
    data = small[0]
    model, tok, cfg = small_model(small)
    save_model_dir(tmp_path / "ckpt", model, tok)
    loaded, tok2, meta = load_model_dir(tmp_path / "ckpt")
    batch = Batches(data, tok, templates(), cfg, seed=0).validation().batches["topn"][0]
    with torch.no_grad():
        assert torch.equal(model(batch).logits, loaded.eval()(batch).logits)
    assert tok2("user_3 item_4")["input_ids"] == tok("user_3 item_4")["input_ids"]
    assert meta["generator"] == cfg.to_dict() and not list(tmp_path.glob("ckpt.*"))


def test_missing_t5_backbone_says_how_to_provide_it(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    cfg = GeneratorConfig(backbone="t5-small")
    with pytest.raises(BackboneMissing, match=r"resources/models/t5-small"):
        load_backbone(cfg, resources=tmp_path / "resources")


def test_generator_settings_have_one_home_the_schema():
    """Defaults and bounds come from the schema; the dataclass names the same keys; the keys a
    variant may override are derived from the schema, not listed by hand."""
    from peapod.config import ConfigError, load_schema, validate_config

    schema = load_schema()
    props = schema["properties"]["generator"]["properties"]
    defaults = GeneratorConfig().to_dict()
    assert list(props) == list(defaults)  # a setting is a schema entry and a field, in the same order
    assert {k: v["default"] for k, v in props["tiny"]["properties"].items()} == defaults["tiny"]
    assert all(spec["default"] == defaults[key] for key, spec in props.items() if key != "tiny")
    # Bounds: the schema's, with its message naming the key.
    with pytest.raises(ValueError, match=r"heads: 0 is less than the minimum of 1"):
        GeneratorConfig(heads=0)
    with pytest.raises(ValueError, match=r"lr_decay: 'cosyne' is not one of"):
        GeneratorConfig(lr_decay="cosyne")
    with pytest.raises(ValueError, match=r"tiny.d_model: 4 is less than the minimum of 8"):
        GeneratorConfig.from_dict({"tiny": {"d_model": 4}})
    # Overridable keys: every generator key, and nothing else.
    assert schema["$defs"]["generator_overrides"]["propertyNames"]["enum"] == list(props)
    config = {"datasets": {"demo": {"source": "demo"}}, "variants": {"v": {"curve_beams": 12, "lr": 0.1}}}
    with pytest.raises(ConfigError, match=r"variants\.v: 'lr' is not one of"):
        validate_config(config, REPO / "workflow" / "schemas" / "config.schema.yaml")


@pytest.mark.parametrize("name", ["config.yaml", "paper.yaml"])
def test_shipped_variants_are_valid(name):
    cfg = yaml.safe_load((REPO / "config" / name).read_text())
    for overrides in cfg["variants"].values():
        variant_config(cfg["generator"], overrides)
    with pytest.raises(ValueError, match="unknown key"):
        variant_config(cfg["generator"], {"user_promt": "mha"})


def test_t5_backbone_loads_offline_from_a_local_directory(tmp_path):
    from transformers import T5ForConditionalGeneration

    from peapod.generator.backbone import t5_config

    tok = train_tokenizer(_corpus(), 200)
    torch.manual_seed(0)
    saved = T5ForConditionalGeneration(t5_config(len(tok), 32, 64, 1, 2))
    saved.save_pretrained(tmp_path / "t5-small")
    tok.save_pretrained(tmp_path / "t5-small")
    model, tok2 = load_backbone(GeneratorConfig(backbone="t5-small", model_dir=str(tmp_path / "t5-small")))
    assert_same_state_dict(saved.state_dict(), model.state_dict())
    assert tok2("user_3 item_4")["input_ids"] == tok("user_3 item_4")["input_ids"]
    assert model.config._attn_implementation == "peapod_sdpa"


def test_user_prompt_attention_runs_in_the_models_width(small):
    """As in the released code: W_q, W_k, W_v map the CF vector (here 8-d) to d_model (32), the
    heads split d_model (head size 32 / 2), and the projector maps d_model to prompt_length x d_model.
    Checked against the formula written out head by head."""
    model, _, cfg = small_model(small)
    mha, d, c = model.user_prompt, model.t5.config.d_model, model.user_embeddings.shape[1]
    assert c != d  # the case where the two readings differ
    assert mha.q.weight.shape == mha.k.weight.shape == mha.v.weight.shape == (d, c)
    assert mha.out.weight.shape == (cfg.prompt_length * d, d)
    users = torch.tensor([1, 2, 3])
    u = model.user_embeddings[users]  # (B, c)
    s = model.user_embeddings[model.neighbor_ids[users]]  # (B, n, c)
    q, k, v = mha.q(u), mha.k(s), mha.v(s)  # (B, d), (B, n, d), (B, n, d)
    dh = d // cfg.heads
    heads = []
    for h in range(cfg.heads):
        part = slice(h * dh, (h + 1) * dh)
        weights = torch.softmax(torch.einsum("bd,bnd->bn", q[:, part], k[:, :, part]) / dh ** 0.5, dim=-1)
        heads.append(torch.einsum("bn,bnd->bd", weights, v[:, :, part]))
    expected = mha.out(torch.cat(heads, dim=-1)).view(3, cfg.prompt_length, d)
    assert torch.allclose(model.user_prompt_vectors(users), expected, atol=1e-6)


def test_heads_must_divide_the_models_width():
    with pytest.raises(ValueError, match=r"heads \(3\) must divide tiny.d_model \(32\)"):
        GeneratorConfig.from_dict({"tiny": TINY, "heads": 3})
    GeneratorConfig.from_dict({"tiny": TINY, "heads": 3, "user_prompt": "mlp"})  # no attention: no constraint


def test_explanation_targets_are_the_first_tokens_as_in_the_released_code(small):
    """A long explanation keeps its first explanation_length tokens and no EOS (HF truncation would
    keep one token fewer and end with EOS); a short one keeps its EOS."""
    data, _, _, _ = small
    _, tok, cfg = small_model(small, explanation_length=6)
    batches = Batches(data, tok, templates(), cfg, seed=0)
    texts = data.explanations["train"]["text"]
    full = [tok(str(t))["input_ids"] for t in texts]
    assert any(len(f) > 6 for f in full) and any(len(f) <= 6 for f in full)
    for f, target in zip(full, batches.exp_target["train"]):
        assert target.tolist() == f[:6]
        assert (tok.eos_token_id in target.tolist()) == (len(f) <= 6)


def test_learning_rate_schedule_warms_up_then_decays_to_zero():
    from peapod.generator.config import learning_rate_factor

    cfg = GeneratorConfig.from_dict({"tiny": TINY, "warmup_steps": 4, "lr_decay": "linear"})
    factors = [learning_rate_factor(cfg, step, 12) for step in range(12)]
    assert factors[:4] == pytest.approx([0.25, 0.5, 0.75, 1.0])
    assert factors[4:] == pytest.approx([1 - k / 8 for k in range(8)])  # 1 at the end of warm-up, toward 0
    cosine = GeneratorConfig.from_dict({"tiny": TINY, "lr_decay": "cosine"})
    assert [learning_rate_factor(cosine, s, 4) for s in (0, 2, 4)] == pytest.approx([1.0, 0.5, 0.0])
    paper = GeneratorConfig.from_dict({"tiny": TINY})
    assert {learning_rate_factor(paper, s, 10) for s in range(10)} == {1.0}
    with pytest.raises(ValueError, match="lr_decay"):
        GeneratorConfig.from_dict({"tiny": TINY, "lr_decay": "step"})
