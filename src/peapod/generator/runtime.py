"""Where and in which precision the generator runs: the device, bf16 autocast where the device
supports bf16 natively (else float32), and batch transfers. Training and evaluation share these.

The precision is a process-wide choice (``peapod.devices.set_precision``, from the config's
``devices.precision``, set once by each generator job when it claims its device): "auto" is bf16 autocast on a CUDA device
with native bf16 and float32 elsewhere; "float32" is float32 everywhere; "bf16" adds the CPU where
it computes bf16 natively (AVX512-BF16 or AMX), about twice the float32 speed of a top-n training
step there (benchmarks/README.md, "Training step profile"). Logits, losses and log-probabilities
stay float32 in every mode (model.float32_logits)."""

from __future__ import annotations

import contextlib
import logging

import torch

from peapod.devices import PRECISIONS, precision, set_precision  # noqa: F401 (set here, read below)

log = logging.getLogger(__name__)


def pick_device(device: str | None = None) -> torch.device:
    return torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))


def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bf16 matrix products natively (AVX512-BF16 or AMX), where oneDNN
    runs them at about twice the float32 rate; elsewhere bf16 is emulated and slower."""
    import torch.cpu

    checks = (getattr(torch.cpu, "_is_avx512_bf16_supported", None), getattr(torch.cpu, "_is_amx_tile_supported", None))
    return torch.backends.mkldnn.is_available() and any(check is not None and check() for check in checks)


def compute_dtype(device: torch.device) -> torch.dtype:
    """bfloat16 on a CUDA device with native bf16 (Ampere and newer) unless the precision is
    "float32"; on a CPU only when the precision is "bf16" and the CPU has native bf16; float32
    everywhere else (emulated bf16 on older GPUs and CPUs is slower than float32)."""
    mode = precision()
    if mode == "float32":
        return torch.float32
    if device.type == "cuda" and torch.cuda.is_bf16_supported(including_emulation=False):
        return torch.bfloat16
    if device.type == "cpu" and mode == "bf16" and cpu_has_native_bf16():
        return torch.bfloat16
    return torch.float32


def describe_precision(device: torch.device) -> str:
    """One line for the logs: which precision the matmuls use and that logits stay float32."""
    dtype = compute_dtype(device)
    mode = "bf16 autocast" if dtype == torch.bfloat16 else "float32"
    return f"{mode} on {device} (logits, losses and log-probabilities in float32)"


def autocast(device: torch.device):
    """bf16 autocast where ``compute_dtype`` says so, else a no-op context (plain float32)."""
    if compute_dtype(device) == torch.bfloat16:
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def compile_model(model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """``torch.compile`` the model in place (``nn.Module.compile``: the state dict keeps its names,
    so checkpoints are unchanged), with dynamic shapes (batches are padded to their own length).
    Benchmarks only for now (bench_train_step.py --compile, gpu_suite.py): on an H200 it did not
    beat eager mode (benchmarks/README.md, "Training step profile"), so no workflow setting uses it."""
    import torch._dynamo

    # Hugging Face's T5 breaks the graph between layers, so each layer is a frame of its own, with
    # a variant for the first layer (no position bias yet) and the others, per stack and mode:
    # more than dynamo's default of 8 recompilations.
    torch._dynamo.config.recompile_limit = max(torch._dynamo.config.recompile_limit, 64)
    model.compile(dynamic=True)  # forward: validation losses, the copy check
    if hasattr(model, "training_loss"):  # what train_step calls (PeaPOD)
        model.training_loss = torch.compile(model.training_loss, dynamic=True)
    log.info("torch.compile on %s: the first steps compile the model", device)
    return model


def to_device(batch: dict[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    """Copy a batch to ``device`` (asynchronously when it sits in pinned memory)."""
    if device.type == "cpu":
        return batch
    return {k: v.to(device, non_blocking=True) for k, v in batch.items()}
