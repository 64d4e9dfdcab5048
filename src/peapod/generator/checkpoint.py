"""Checkpoints without pickle: tensors in safetensors, everything else in JSON.

A model directory (the best checkpoint a run exports) holds model.safetensors, config.json (the
generator settings, the T5 config and the CF input shapes) and the tokenizer files; it loads with
no network and no original backbone directory. The fixed CF tables of a user prompt are referred
to by path and SHA-256 in config.json when the model was built from the workflow's files
(``cf_source``), else stored beside the weights in collab.safetensors. A training-state directory (``last/``) adds
optimizer.safetensors + optimizer.json, rng.safetensors and state.json. Directories are written
beside their place and swapped in, so a kill at any moment leaves a complete old or new one.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch
from safetensors.torch import load_file, load_model, save_file, save_model

from peapod.generator import attention
from peapod.generator.config import GeneratorConfig

FORMAT = "peapod-generator/1"
COLLAB_FILE = "collab.safetensors"  # CF tables of a model built without cf_source


@contextlib.contextmanager
def atomic_dir(path: str | Path) -> Iterator[Path]:
    """Yield an empty temporary directory; on success it replaces ``path`` as a whole."""
    path = Path(path)
    tmp, old = path.with_name(path.name + ".tmp"), path.with_name(path.name + ".old")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    yield tmp
    for f in tmp.iterdir():  # contents on disk before the swap
        with open(f, "rb") as handle:
            os.fsync(handle.fileno())
    shutil.rmtree(old, ignore_errors=True)
    if path.exists():
        os.replace(path, old)
    os.replace(tmp, path)
    shutil.rmtree(old, ignore_errors=True)


def existing_dir(path: str | Path) -> Path | None:
    """``path``, or its ``.old`` copy when a kill fell between the two renames of a swap."""
    path = Path(path)
    for candidate in (path, path.with_name(path.name + ".old")):
        if (candidate / "config.json").exists():
            return candidate
    return None


def model_meta(model) -> dict[str, Any]:
    cf = None
    if model.user_prompt is not None:
        cf = {"n_rows": int(model.user_embeddings.shape[0]), "dim": int(model.user_embeddings.shape[1]),
              "neighbors": int(model.neighbor_ids.shape[1])}
    return {"format": FORMAT, "generator": model.cfg.to_dict(), "t5": model.t5.config.to_dict(), "cf": cf,
            "cf_source": model.cf_source}


def write_model(directory: Path, model, tokenizer, extra: dict[str, Any] | None = None) -> None:
    save_model(model, str(directory / "model.safetensors"))
    if model.user_prompt is not None and model.cf_source is None:
        save_file({"user_embeddings": model.user_embeddings.detach().cpu().contiguous(),
                   "neighbor_ids": model.neighbor_ids.detach().cpu().contiguous()}, str(directory / COLLAB_FILE))
    tokenizer.save_pretrained(str(directory))
    (directory / "config.json").write_text(json.dumps({**model_meta(model), **(extra or {})}, indent=2) + "\n")


def save_model_dir(directory: str | Path, model, tokenizer, extra: dict[str, Any] | None = None) -> None:
    with atomic_dir(directory) as tmp:
        write_model(tmp, model, tokenizer, extra)


def build_from_meta(meta: dict[str, Any], collab: tuple[np.ndarray, np.ndarray] | None = None):
    """An untrained model of the saved shape (weights to be loaded into it), with the CF tables
    ``collab`` (zeros of the saved shape when not given)."""
    from transformers import T5Config, T5ForConditionalGeneration

    from peapod.generator.model import PeaPOD

    if meta.get("format") != FORMAT:
        raise ValueError(f"not a {FORMAT} checkpoint (format {meta.get('format')!r})")
    t5_config = T5Config.from_dict(dict(meta["t5"]))
    t5_config._attn_implementation = attention.register()
    t5 = T5ForConditionalGeneration(t5_config)
    cfg = GeneratorConfig.from_dict(meta["generator"])
    emb = nbr = None
    if meta["cf"] is not None:
        shape = (meta["cf"]["n_rows"], meta["cf"]["dim"]), (meta["cf"]["n_rows"], meta["cf"]["neighbors"])
        emb, nbr = collab if collab is not None else (np.zeros(shape[0], np.float32), np.zeros(shape[1], np.int64))
        if (emb.shape, nbr.shape) != shape:
            raise ValueError(f"CF tables of shape {emb.shape}, {nbr.shape}; the checkpoint was trained with {shape}")
    model = PeaPOD(t5, cfg, emb, nbr)
    model.cf_source = meta.get("cf_source")
    return model


def saved_collab(directory: Path, meta: dict[str, Any], cf_files: tuple[str | Path, str | Path] | None = None):
    """The CF tables of a model directory: from the files its ``cf_source`` names (or ``cf_files``,
    which must hash the same), else from collab.safetensors; None without a user prompt."""
    from peapod.generator.collab import CollabSource

    if meta["cf"] is None:
        return None
    if meta.get("cf_source"):
        return CollabSource(**meta["cf_source"]).load(*(cf_files or (None, None)))
    tables = load_file(str(directory / COLLAB_FILE))
    return tables["user_embeddings"].numpy(), tables["neighbor_ids"].numpy()


MODEL_FILES = {"model": "model.safetensors", "config": "config.json", "tokenizer": "tokenizer.json",
               "tokenizer_config": "tokenizer_config.json"}  # an exported model, by role


def model_files(directory: str | Path) -> dict[str, Path]:
    """{role: path} of the model exported into ``directory``."""
    return {role: Path(directory) / name for role, name in MODEL_FILES.items()}


def load_model_files(files: dict[str, str | Path], device: str | torch.device = "cpu",
                     cf_files: tuple[str | Path, str | Path] | None = None):
    """(model, tokenizer, meta) from an exported model's files ({role: path}, MODEL_FILES); offline.
    transformers reads a tokenizer only from a directory, so both tokenizer files must share one.
    ``cf_files``: (embeddings, neighbours) paths to use instead of those recorded (the same content,
    checked by hash)."""
    from peapod.generator.backbone import offline

    offline()
    from transformers import AutoTokenizer

    files = {role: Path(files[role]) for role in MODEL_FILES}
    tokenizer_dir = files["tokenizer"].parent
    if files["tokenizer_config"].parent != tokenizer_dir:
        raise ValueError(f"{files['tokenizer']} and {files['tokenizer_config']} must be in one directory")
    meta = json.loads(files["config"].read_text())
    model = build_from_meta(meta, saved_collab(files["config"].parent, meta, cf_files))
    load_model(model, str(files["model"]), strict=True, device=str(device))
    tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_dir), local_files_only=True)
    return model.to(device), tokenizer, meta


def load_model_dir(directory: str | Path, device: str | torch.device = "cpu",
                   cf_files: tuple[str | Path, str | Path] | None = None):
    """(model, tokenizer, meta) from the model exported into ``directory`` (load_model_files)."""
    return load_model_files(model_files(directory), device, cf_files)


# ---- training state -----------------------------------------------------------------------------
def _optimizer_parts(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    sd = optimizer.state_dict()
    tensors, plain = {}, {"param_groups": sd["param_groups"], "state": {}}
    for idx, entry in sd["state"].items():
        for key, value in entry.items():
            if torch.is_tensor(value):
                tensors[f"{idx}.{key}"] = value.detach().contiguous().cpu()
            else:
                plain["state"].setdefault(str(idx), {})[key] = value
    return tensors, plain


def _optimizer_state(tensors: dict[str, torch.Tensor], plain: dict[str, Any]) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {}
    for name, value in tensors.items():
        idx, key = name.split(".", 1)
        state.setdefault(int(idx), {})[key] = value
    for idx, entry in plain["state"].items():
        state.setdefault(int(idx), {}).update(entry)
    return {"state": state, "param_groups": plain["param_groups"]}


def rng_tensors() -> dict[str, torch.Tensor]:
    out = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        out["cuda"] = torch.stack(torch.cuda.get_rng_state_all())
    return out


def restore_rng(tensors: dict[str, torch.Tensor]) -> None:
    torch.set_rng_state(tensors["torch"])
    if "cuda" in tensors and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(list(tensors["cuda"]))


def save_training_state(directory: str | Path, model, tokenizer, optimizer, state: dict[str, Any],
                        extra_tensors: dict[str, torch.Tensor]) -> None:
    """Everything needed to continue a run exactly: weights, optimizer, RNG and loop state."""
    tensors, plain = _optimizer_parts(optimizer)
    with atomic_dir(directory) as tmp:
        write_model(tmp, model, tokenizer)
        save_file(tensors, str(tmp / "optimizer.safetensors"))
        (tmp / "optimizer.json").write_text(json.dumps(plain) + "\n")
        save_file({**{f"rng.{k}": v for k, v in rng_tensors().items()},
                   **{f"loop.{k}": v.detach().cpu().contiguous() for k, v in extra_tensors.items()}},
                  str(tmp / "rng.safetensors"))
        (tmp / "state.json").write_text(json.dumps(state, indent=1) + "\n")


def load_training_state(directory: Path, model, optimizer, device) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """Load weights and optimizer state into ``model``/``optimizer``, restore the RNG; returns the
    loop state and its extra tensors."""
    load_model(model, str(directory / "model.safetensors"), strict=True, device=str(device))
    plain = json.loads((directory / "optimizer.json").read_text())
    tensors = load_file(str(directory / "optimizer.safetensors"))
    optimizer.load_state_dict(_optimizer_state(tensors, plain))
    saved = load_file(str(directory / "rng.safetensors"))
    restore_rng({k[4:]: v for k, v in saved.items() if k.startswith("rng.")})
    extra = {k[5:]: v.to(device) for k, v in saved.items() if k.startswith("loop.")}
    return json.loads((directory / "state.json").read_text()), extra
