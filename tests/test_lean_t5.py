"""peapod.generator.lean_t5 keeps the arithmetic of Hugging Face's T5 forward: on the same weights
and batches, the same training losses and gradients (with and without padding, dropout, the copy
head, the user prompt and the released code's unmasked cross-attention), the same validation
losses, encoder outputs and candidate scores, and the same beams through ``generate``."""

from __future__ import annotations

import pytest
import torch

from peapod.generator.data import Batches
from peapod.generator.reference import use_hugging_face_forward

from tests.generator_helpers import small_generator_inputs, small_model, templates
from tests.test_training_speed import GRAD_ATOL, GRAD_RTOL, LOSS_RTOL, padded_batches


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    return small_generator_inputs(tmp_path_factory.mktemp("small"))


def loss_and_grads(model, batch, hugging_face: bool, seed: int = 0):
    """(loss, logits, gradients): Hugging Face's ``T5ForConditionalGeneration.forward`` loss, or
    the training step's ``training_loss`` on the lean path (whose logits come from ``forward``)."""
    use_hugging_face_forward(model, hugging_face)
    model.zero_grad(set_to_none=True)
    torch.manual_seed(seed)  # the same dropout masks on both paths
    if hugging_face:
        out = model(batch)
        loss, logits = out.loss, out.logits.detach()
    else:
        loss = model.training_loss(batch)
        with torch.no_grad():
            torch.manual_seed(seed)
            logits = model(batch).logits
    loss.backward()
    return loss.detach(), logits, {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


def assert_same_training_pass(model, batch, label):
    ref_loss, ref_logits, ref_grads = loss_and_grads(model, batch, hugging_face=True)
    loss, logits, grads = loss_and_grads(model, batch, hugging_face=False)
    assert torch.allclose(loss, ref_loss, rtol=LOSS_RTOL, atol=0), (label, float(loss), float(ref_loss))
    assert torch.allclose(logits, ref_logits, atol=1e-5, rtol=1e-4), (label, (logits - ref_logits).abs().max())
    assert grads.keys() == ref_grads.keys(), (label, set(grads) ^ set(ref_grads))
    for name, grad in grads.items():
        assert torch.allclose(grad, ref_grads[name], atol=GRAD_ATOL, rtol=GRAD_RTOL), (
            f"{label}: gradient of {name} differs by {(grad - ref_grads[name]).abs().max():.3g}")
    return grads


CASES = {
    "peapod": {},
    "pod": {"user_prompt": "none"},
    "dropout": {"tiny": {"d_model": 32, "d_ff": 64, "num_layers": 2, "num_heads": 2, "dropout_rate": 0.3}},
    "copy head, item tokens": {"item_tokens": "independent", "copy_head": True},
    "released defects": {"decoder_encoder_mask": False, "mask_pad_in_loss": False},
}


def gated_untied_model(small, **overrides):
    """The small model with T5 v1.1's layout (flan-t5, t5-v1_1): gated-GELU feed-forward, output
    layer untied from the embeddings (no output scaling)."""
    from transformers import T5ForConditionalGeneration

    from peapod.generator.model import PeaPOD

    model, tok, cfg = small_model(small, batch_size=6, **overrides)
    config = model.t5.config
    config.feed_forward_proj, config.dense_act_fn, config.is_gated_act = "gated-gelu", "gelu_new", True
    config.tie_word_embeddings = False
    if hasattr(config, "scale_decoder_outputs"):
        config.scale_decoder_outputs = False
    torch.manual_seed(0)
    t5 = T5ForConditionalGeneration(config)
    assert t5.lm_head.weight is not t5.shared.weight
    return PeaPOD(t5, cfg, model.user_embeddings.numpy(), model.neighbor_ids.numpy()), tok, cfg


@pytest.mark.parametrize("case", CASES)
def test_training_losses_and_gradients_equal_hugging_faces_forward(small, case):
    model, tok, cfg = small_model(small, batch_size=6, **CASES[case])
    model.train()
    for task, batch in padded_batches(small, cfg, tok).items():
        grads = assert_same_training_pass(model, batch, f"{case}, task {task}")
        # every part of T5 is trained through the lean path (not merely equal where both are zero)
        for part in ("relative_attention_bias", "EncDecAttention.q", "DenseReluDense.wo", "final_layer_norm"):
            assert any(part in name and grad.abs().sum() > 0 for name, grad in grads.items()), (case, part)


def test_gated_untied_t5_equals_hugging_faces_forward(small):
    model, tok, cfg = gated_untied_model(small)
    model.train()
    for task, batch in padded_batches(small, cfg, tok).items():
        grads = assert_same_training_pass(model, batch, f"gated, untied, task {task}")
        assert any("wi_1" in name for name in grads) and grads["t5.lm_head.weight"].abs().sum() > 0


def test_dropout_draws_the_same_masks_as_hugging_face(small):
    """With dropout on, the same seed gives the same loss on both paths and another seed another one:
    the masks are drawn in the same order, and they are drawn."""
    model, tok, cfg = small_model(small, batch_size=6, **CASES["dropout"])
    model.train()
    batch = next(iter(padded_batches(small, cfg, tok).values()))
    first, _, grads = loss_and_grads(model, batch, hugging_face=False, seed=1)
    reference, _, ref_grads = loss_and_grads(model, batch, hugging_face=True, seed=1)
    other, _, _ = loss_and_grads(model, batch, hugging_face=False, seed=2)
    assert torch.allclose(first, reference, rtol=LOSS_RTOL, atol=0), (float(first), float(reference))
    assert grads.keys() == ref_grads.keys()
    for name, grad in grads.items():
        assert torch.allclose(grad, ref_grads[name], atol=GRAD_ATOL, rtol=GRAD_RTOL), name
    assert not torch.allclose(first, other)


@pytest.mark.parametrize("case", ["peapod", "copy head, item tokens", "released defects"])
def test_encoder_outputs_scores_and_beams_equal_hugging_faces(small, case):
    model, tok, cfg = small_model(small, **CASES[case])
    val = Batches(small[0], tok, templates(), cfg, seed=0).validation()
    batch = {k: v[:4] for k, v in val.batches["topn"][0].items()}
    labels = val.item_labels[torch.from_numpy(val.topn_candidates[:4, :20])]
    out = {}
    with torch.no_grad():
        for hugging_face in (True, False):
            use_hugging_face_forward(model, hugging_face)
            encoded = model.encode(batch)[0].last_hidden_state
            generated = model.generate(batch, num_beams=5, num_return_sequences=5, max_new_tokens=6,
                                       output_scores=True, return_dict_in_generate=True)
            out[hugging_face] = (encoded, model(batch).loss, model.score_candidates(batch, labels),
                                 generated.sequences, generated.sequences_scores)
    (enc_ref, loss_ref, cand_ref, seq_ref, beam_ref), (enc, loss, cand, seq, beam) = out[True], out[False]
    assert torch.allclose(enc, enc_ref, atol=1e-6, rtol=1e-5)
    assert torch.allclose(loss, loss_ref, rtol=LOSS_RTOL, atol=0)
    assert torch.allclose(cand, cand_ref, atol=1e-5)
    assert torch.equal(cand.argsort(dim=1, descending=True), cand_ref.argsort(dim=1, descending=True))
    assert torch.equal(seq, seq_ref)
    assert torch.allclose(beam, beam_ref, atol=1e-5)
    # the packed scores of the lean path equal one Hugging Face pass per candidate
    use_hugging_face_forward(model, False)
    assert torch.allclose(cand, model.score_candidates_naive(batch, labels), atol=1e-5)


def training_losses(small, tmp_path, hugging_face: bool, steps: int, **overrides) -> list[float]:
    """Per-step losses of the workflow's own ``train_step`` from the same initial weights: the
    reference (Hugging Face's forward, AdamW's for-each loop) or the lean path (fused AdamW, sparse
    embedding gradients, target-only log-probabilities)."""
    from peapod.generator.config import TASKS  # noqa: F401
    from peapod.generator.train import open_session, train_step

    model, tok, cfg = small_model(small, batch_size=6, learning_rate=1e-3, **overrides)
    use_hugging_face_forward(model, hugging_face)
    s = open_session(cfg, small[0], templates(), 0, tmp_path / str(hugging_face), torch.device("cpu"), model, tok,
                     None)
    if hugging_face:
        s.optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.learning_rate, weight_decay=cfg.weight_decay,
                                        foreach=False)
    losses = []
    for _, batch in s.batches.iterate(0):
        losses.append(float(train_step(s, batch).detach()))
        s.state.global_step += 1
        if len(losses) == steps:
            return losses
    raise AssertionError("fewer batches than steps")


@pytest.mark.parametrize("case", ["peapod", "copy head, item tokens"])
def test_training_steps_give_the_same_losses(small, tmp_path, case):
    """Twenty optimizer steps: each step's loss within 1e-5 (relative) of the reference's. Float
    sums in another order drift apart slowly over many steps (benchmarks/README.md measures where on
    real Beauty); twenty steps at this learning rate stay far inside the bound."""
    reference = training_losses(small, tmp_path, True, 20, **CASES[case])
    lean = training_losses(small, tmp_path, False, 20, **CASES[case])
    assert len(set(reference)) > 10  # the model trains: the losses move
    for step, (a, b) in enumerate(zip(lean, reference)):
        assert abs(a - b) <= 1e-5 * abs(b), (case, step, a, b)


def test_cpu_training_forms_no_dense_embedding_gradient(small):
    """What makes the CPU step cheaper, kept: no vocabulary x d_model zero-filled gradient per
    lookup (sparse rows added into the output layer's gradient) and no vocabulary-wide copy-head
    mixture (target-only log-probabilities), while the gradients stay dense for the optimizer."""
    from torch.profiler import profile

    model, tok, cfg = small_model(small, batch_size=6, **CASES["copy head, item tokens"])
    model.train()
    batch = next(iter(padded_batches(small, cfg, tok).values()))
    with profile() as prof:
        loss = model.training_loss(batch)
    assert "aten::scatter_add_" not in {event.key for event in prof.key_averages()}  # the mixture's scatter
    lookups = embedding_lookups(loss.grad_fn, model.t5.shared.weight)
    # one lookup for both stacks (input and decoder tokens), with a sparse gradient
    both = batch["input_ids"].numel() + batch["labels"].numel()
    assert lookups and all(sparse and size == both for sparse, size in lookups), (lookups, both)
    loss.backward()
    assert not model.t5.shared.weight.grad.is_sparse
    use_hugging_face_forward(model, True)  # the reference forms both (so the checks can fail)
    with profile() as prof:
        loss = model(batch).loss
    assert "aten::scatter_add_" in {event.key for event in prof.key_averages()}
    assert not all(sparse for sparse, _ in embedding_lookups(loss.grad_fn, model.t5.shared.weight))  # its decoder's


def embedding_lookups(node, weight) -> list[tuple[bool, int]]:
    """(sparse gradient?, number of ids) of each lookup of ``weight`` in the autograd graph below
    ``node`` (a lookup reached by two paths is listed twice)."""
    found, seen, stack = [], set(), [node]
    while stack:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        if type(node).__name__ == "EmbeddingBackward0" and any(
                getattr(n, "variable", None) is weight for n, _ in node.next_functions):
            found.append((bool(node._saved_sparse), node._saved_indices.numel()))
        stack.extend(n for n, _ in node.next_functions)
    return found


def test_bf16_autocast_losses_and_gradients_match_hugging_face(small):
    """Under bf16 autocast (GPUs, devices.precision: bf16) the two paths cast at the same places: the
    attention bias takes the scores' dtype, logits and losses stay float32."""
    model, tok, cfg = small_model(small, batch_size=6)
    model.train()
    batch = next(iter(padded_batches(small, cfg, tok).values()))
    out = {}
    for hugging_face in (True, False):
        use_hugging_face_forward(model, hugging_face)
        model.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            loss = model(batch).loss if hugging_face else model.training_loss(batch)
        assert loss.dtype == torch.float32
        loss.backward()
        out[hugging_face] = (loss.detach(), {n: p.grad.clone() for n, p in model.named_parameters()
                                              if p.grad is not None})
    (ref_loss, ref_grads), (loss, grads) = out[True], out[False]
    assert torch.allclose(loss, ref_loss, rtol=LOSS_RTOL, atol=0), (float(loss), float(ref_loss))
    assert grads.keys() == ref_grads.keys(), set(grads) ^ set(ref_grads)  # no gradient only one path has
    for name, grad in grads.items():  # observed: 7e-8 of the largest entry
        scale = ref_grads[name].abs().max()
        assert (grad - ref_grads[name]).abs().max() <= 1e-4 * scale + 1e-7, name


@pytest.mark.parametrize("internal", ["compute_bias", "n_heads", "key_value_proj_dim"])
def test_a_missing_hugging_face_internal_stops_the_model_build_by_name(small, internal):
    """The lean pass reads T5 internals; a transformers without one stops at model build with its
    name and the supported range, not later with an AttributeError deep in a training step."""
    from peapod.generator.lean_t5 import SUPPORTED_TRANSFORMERS, UnsupportedTransformers
    from peapod.generator.model import PeaPOD

    model, _, cfg = small_model(small, user_prompt="none")
    attention = model.t5.decoder.block[0].layer[0].SelfAttention
    if internal == "compute_bias":
        attention.compute_bias = None  # an instance attribute hides the method
    else:
        delattr(attention, internal)
    with pytest.raises(UnsupportedTransformers, match=f"decoder.block\\[0\\].layer\\[0\\].SelfAttention.{internal}") as error:
        PeaPOD(model.t5, cfg)
    assert SUPPORTED_TRANSFORMERS in str(error.value)


def test_pyproject_states_the_supported_transformers_range_and_the_installed_one_is_in_it():
    import tomllib

    import transformers
    from packaging.specifiers import SpecifierSet

    from peapod.generator.lean_t5 import SUPPORTED_TRANSFORMERS
    from tests.helpers import REPO

    generator = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]["generator"]
    assert f"transformers{SUPPORTED_TRANSFORMERS}" in [d.replace(" ", "") for d in generator]
    supported = SpecifierSet(SUPPORTED_TRANSFORMERS)
    assert transformers.__version__ in supported
    assert "5.17.0" in supported  # the GPU machine's (benchmarks/README.md, GPU figures)
    pinned = next(line.split("==")[1].strip() for line in (REPO / "envs" / "constraints.txt").read_text().splitlines()
                  if line.startswith("transformers=="))
    assert pinned in supported
