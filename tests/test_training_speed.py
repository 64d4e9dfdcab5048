"""The training-speed changes keep the arithmetic: peapod.generator.attention ("peapod_sdpa") gives
Hugging Face's "sdpa" losses, gradients, beams and candidate scores on the same weights (on
Hugging Face's own forward, which beam search and the reference path run; tests/test_lean_t5.py
compares the lean path with it), and the precision setting picks float32 or bf16 as documented."""

from __future__ import annotations

import pytest
import torch

from peapod.generator import attention
from peapod.generator.data import Batches
from peapod.generator.reference import use_hugging_face_forward
from peapod.generator.runtime import autocast, compute_dtype, cpu_has_native_bf16, set_precision

from tests.generator_helpers import small_generator_inputs, small_model, templates


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    return small_generator_inputs(tmp_path_factory.mktemp("small"))

# float32 sums in another order: the observed differences are ~1e-7 on the loss and ~1e-8 on
# gradients; these bounds are two orders above that and far below any real change.
LOSS_RTOL = 1e-5
GRAD_ATOL, GRAD_RTOL = 1e-6, 1e-4


def use_attention(model, name: str) -> None:
    """Switch every T5 config in the model (the encoder's and decoder's are copies) to ``name``."""
    for module in model.modules():
        config = getattr(module, "config", None)
        if config is not None and hasattr(config, "_attn_implementation"):
            config._attn_implementation = name


def padded_batches(small, cfg, tok):
    """One training batch of each recommendation task, with padding in the encoder inputs."""
    batches = Batches(small[0], tok, templates(), cfg, seed=0)
    found = {}
    for _, batch in batches.iterate(0):
        task = int(batch["task_ids"][0])
        if task not in found and not bool(batch["attention_mask"].all()):
            found[task] = batch
        if len(found) == 2:
            return found
    raise AssertionError(f"no padded batch of each task (found tasks {sorted(found)})")


def loss_and_grads(model, batch):
    model.zero_grad(set_to_none=True)
    loss = model(batch).loss
    loss.backward()
    return loss.detach(), {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


@pytest.mark.parametrize("variant", ["mha", "none"])
def test_training_losses_and_gradients_equal_hugging_faces_sdpa(small, variant):
    model, tok, cfg = small_model(small, user_prompt=variant, batch_size=6)
    use_hugging_face_forward(model, True)  # the attention functions serve Hugging Face's T5 (generate, the reference)
    assert model.t5.config._attn_implementation == attention.ATTENTION
    model.train()
    for task, batch in padded_batches(small, cfg, tok).items():
        use_attention(model, "sdpa")
        ref_loss, ref_grads = loss_and_grads(model, batch)
        use_attention(model, attention.ATTENTION)
        loss, grads = loss_and_grads(model, batch)
        assert torch.allclose(loss, ref_loss, rtol=LOSS_RTOL, atol=0), (task, float(loss), float(ref_loss))
        assert grads.keys() == ref_grads.keys()
        for name, grad in grads.items():
            assert torch.allclose(grad, ref_grads[name], atol=GRAD_ATOL, rtol=GRAD_RTOL), (
                f"task {task}: gradient of {name} differs by {(grad - ref_grads[name]).abs().max():.3g}")
        # the relative position bias is trained through the combined mask in both stacks
        assert any("relative_attention_bias" in name and grad.abs().sum() > 0 for name, grad in grads.items())


def test_beams_and_candidate_scores_equal_hugging_faces_sdpa(small):
    model, tok, cfg = small_model(small)
    use_hugging_face_forward(model, True)
    val = Batches(small[0], tok, templates(), cfg, seed=0).validation()
    batch = {k: v[:4] for k, v in val.batches["topn"][0].items()}
    labels = val.item_labels[torch.from_numpy(val.topn_candidates[:4, :20])]
    out = {}
    for name in ("sdpa", attention.ATTENTION):
        use_attention(model, name)
        generated = model.generate(batch, num_beams=5, num_return_sequences=5, max_new_tokens=6,
                                   output_scores=True, return_dict_in_generate=True)
        out[name] = (generated.sequences, generated.sequences_scores, model.score_candidates(batch, labels))
    (seq_ref, beam_ref, cand_ref), (seq, beam, cand) = out["sdpa"], out[attention.ATTENTION]
    assert torch.equal(seq, seq_ref)
    assert torch.allclose(beam, beam_ref, atol=1e-5)
    assert torch.allclose(cand, cand_ref, atol=1e-5)
    assert torch.equal(cand.argsort(dim=1, descending=True), cand_ref.argsort(dim=1, descending=True))


def test_combined_mask_is_built_once_per_stack(small, monkeypatch):
    """The point of the module: one position-bias mask per stack, reused by every layer, and it is
    the position bias where attending is allowed and the dtype's minimum elsewhere."""
    model, tok, cfg = small_model(small, tiny={"d_model": 32, "d_ff": 64, "num_layers": 3, "num_heads": 2,
                                               "vocab_size": 200})
    use_hugging_face_forward(model, True)
    batch = next(iter(padded_batches(small, cfg, tok).values()))
    received = []  # the additive mask each layer's attention is given, in call order
    original = attention.biased_attention

    def recording(query, key, value, bias, *rest, **kwargs):
        received.append(bias)
        return original(query, key, value, bias, *rest, **kwargs)

    monkeypatch.setattr(attention, "biased_attention", recording)
    with torch.no_grad():
        model(batch)
    assert len(received) == 9  # 3 encoder layers, then per decoder layer its self- and cross-attention
    encoder, decoder_self, cross = received[:3], received[3::2], received[4::2]
    for stack in (encoder, decoder_self, cross):
        assert all(bias is stack[0] for bias in stack)  # one tensor shared by the stack's layers
    assert len({id(encoder[0]), id(decoder_self[0]), id(cross[0])}) == 3
    # the encoder's, built here from T5's own position bias and the padded batch's mask
    _, mask = model.encoder_inputs(batch)
    S = mask.shape[1]
    bias = model.t5.encoder.block[0].layer[0].SelfAttention.compute_bias(S, S)
    expected = torch.where(mask[:, None, None, :].bool(), bias, torch.finfo(bias.dtype).min)
    assert not bool(mask.all()) and torch.equal(encoder[0], expected)


def test_precision_setting(monkeypatch):
    cpu = torch.device("cpu")
    try:
        set_precision("auto")
        assert compute_dtype(cpu) == torch.float32
        set_precision("float32")
        assert compute_dtype(cpu) == torch.float32
        set_precision("bf16")
        assert compute_dtype(cpu) == (torch.bfloat16 if cpu_has_native_bf16() else torch.float32)
        monkeypatch.setattr("peapod.generator.runtime.cpu_has_native_bf16", lambda: True)
        assert compute_dtype(cpu) == torch.bfloat16
        with autocast(cpu):
            assert torch.get_autocast_dtype("cpu") == torch.bfloat16 and torch.is_autocast_enabled("cpu")
        with pytest.raises(ValueError, match="expected one of auto, float32, bf16"):
            set_precision("fp16")
    finally:
        set_precision("auto")


@pytest.mark.parametrize("start", [0, 5])
def test_loader_workers_build_the_same_batches(small, start):
    """Batches built by forked worker processes equal the ones built in order in this process,
    from any resume point."""
    model, tok, cfg = small_model(small, batch_size=4)
    batches = Batches(small[0], tok, templates(), cfg, seed=3)
    plan_length = len(batches.epoch_plan(1))
    expected = list(batches.iterate(1, start=start, prefetch=0))
    got = list(batches.iterate(1, start=start, prefetch=2, workers=2))
    assert [k for k, _ in got] == list(range(start, plan_length)) == [k for k, _ in expected]
    for (_, a), (_, b) in zip(got, expected):
        assert a.keys() == b.keys() and all(torch.equal(a[name], b[name]) for name in a)


def test_loader_workers_stop_early_and_surface_errors(small, monkeypatch):
    model, tok, cfg = small_model(small, batch_size=4)
    batches = Batches(small[0], tok, templates(), cfg, seed=3)
    for _ in zip(range(2), batches.iterate(0, workers=2)):  # abandoned after two batches: no hang
        pass
    monkeypatch.setattr(Batches, "training_sample", lambda *a: (_ for _ in ()).throw(RuntimeError("bad unit")))
    with pytest.raises(RuntimeError, match="bad unit"):
        list(batches.iterate(0, workers=2))
