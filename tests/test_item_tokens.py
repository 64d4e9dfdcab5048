"""Independent item tokens (generator.item_tokens: independent): every catalogue item is one token
of its own, in prompts and as the target, and beams are read back as items; the paper's digits
stay the default and read as before."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from peapod.evaluation.evaluate import EvalData, EvalSettings, RunEvaluator
from peapod.generator.checkpoint import load_model_dir, save_model_dir
from peapod.generator.data import Batches, fill
from peapod.generator.decoding import read_item_id
from peapod.generator.tokenization import encode_with_whole_words
from tests.generator_helpers import SMALL, small_generator_inputs, small_model, templates
from tests.helpers import make_demo


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    return small_generator_inputs(tmp_path_factory.mktemp("items"))


def test_each_catalogue_item_is_one_token_of_its_own(small):
    data = small[0]
    model, tok, _ = small_model(small, item_tokens="independent", user_prompt="none")
    digits_model, digits_tok, _ = small_model(small, user_prompt="none")
    assert len(tok) == len(digits_tok) + len(data.catalogue)
    assert model.t5.get_input_embeddings().weight.shape[0] >= len(tok)
    user = next(iter(data.sequences))
    history = data.sequences[user][:4]
    prompt = fill(templates().train["sequential"][0], "sequential", user, items=history)
    ids, words = encode_with_whole_words(tok, [prompt])
    item_positions = [int(np.flatnonzero(ids[0] == tok.convert_tokens_to_ids(f"item_{i}"))[0]) for i in history]
    # one token per item, each its own whole word (numbered after the user's id word), in order
    assert words[0][item_positions].tolist() == [2, 3, 4, 5]
    assert all(int(ids[0][p]) >= len(digits_tok) for p in item_positions)
    # an id outside the catalogue is not swallowed by a shorter item's token
    outside = int(data.catalogue.max()) * 10 + 7
    outside_ids = encode_with_whole_words(tok, [f"item_{outside}"])[0][0]
    assert len(outside_ids) > 2 and f"item_{outside}" not in tok.convert_ids_to_tokens(outside_ids.tolist())


def test_targets_are_the_items_token_then_the_end(small):
    data = small[0]
    _, tok, cfg = small_model(small, item_tokens="independent", user_prompt="none")
    b = Batches(data, tok, templates(), cfg, seed=0)
    for item in data.catalogue[:20]:
        assert b.item_target[int(item)].tolist() == [tok.convert_tokens_to_ids(f"item_{int(item)}"), tok.eos_token_id]
    _, digits_tok, digits_cfg = small_model(small, user_prompt="none")
    digits = Batches(data, digits_tok, templates(), digits_cfg, seed=0)
    item = int(data.catalogue[-1])
    assert digits_tok.decode(digits.item_target[item], skip_special_tokens=True).strip() == str(item)


def test_generated_text_reads_as_an_item_only_in_its_own_indexing():
    assert read_item_id("123") == 123 and read_item_id("item_123") is None
    assert read_item_id("item_123", "independent") == 123
    assert read_item_id("123", "independent") is None
    assert read_item_id("item_0123", "independent") is None and read_item_id("item_", "independent") is None


def test_beams_return_the_items_the_model_prefers_and_survive_a_checkpoint(small, tmp_path):
    data = small[0]
    model, tok, cfg = small_model(small, item_tokens="independent", user_prompt="none")
    save_model_dir(tmp_path / "ckpt", model, tok)
    model, tok, _ = load_model_dir(tmp_path / "ckpt")
    model.eval()
    root = tmp_path / "demo"
    make_demo(root, SMALL, parquet=True)
    eval_data = EvalData.from_directory(root / "data", "test")
    favourite = [int(i) for i in data.catalogue[[3, 7]]]
    first, then = torch.zeros(model.t5.config.vocab_size), torch.zeros(model.t5.config.vocab_size)
    first[[tok.convert_tokens_to_ids(f"item_{i}") for i in favourite]] = torch.tensor([40.0, 30.0])
    then[tok.eos_token_id] = 40.0  # after the item, the end
    last = {}

    def remember(mod, args, kwargs):  # the decoder's newest input token: start, or an item
        last["start"] = (kwargs["input_ids"][:, -1:] == model.t5.config.decoder_start_token_id).unsqueeze(-1)

    hooks = [model.t5.decoder.register_forward_pre_hook(remember, with_kwargs=True),
             model.t5.lm_head.register_forward_hook(lambda mod, inp, out: out + torch.where(last["start"], first, then))]
    try:
        for constrained in (False, True):
            settings = EvalSettings(beams=4, top_k=2, batch_size=8, constrained=constrained)
            ev = RunEvaluator(model, tok, templates(), settings, eval_data.catalogue)
            assert ev.max_item_len == 2  # one item token and the end
            users = sorted(eval_data.sequences)[:3]
            prompts = [fill(templates().eval["sequential"], "sequential", u, items=eval_data.sequences[u][:-1])
                       for u in users]
            for _, batch in ev._batches("sequential", users, ev._encode(prompts), "test"):
                trie = (lambda row: ev.catalogue_trie) if constrained else None
                assert ev._beam_lists(batch, trie).ranked(ev.in_catalogue) == [favourite] * len(users)
    finally:
        for hook in hooks:
            hook.remove()
