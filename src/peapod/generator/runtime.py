"""Where and in which precision the generator runs: the device, bf16 autocast where the device
supports bf16 natively (else float32), and batch transfers. Training and evaluation share these."""

from __future__ import annotations

import contextlib
import logging

import torch

log = logging.getLogger(__name__)


def pick_device(device: str | None = None) -> torch.device:
    return torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))


def compute_dtype(device: torch.device) -> torch.dtype:
    """bfloat16 on a CUDA device with native bf16 (Ampere and newer); float32 everywhere else
    (emulated bf16 on older GPUs and bf16 on most CPUs are slower than float32)."""
    if device.type == "cuda" and torch.cuda.is_bf16_supported(including_emulation=False):
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


def to_device(batch: dict[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    """Copy a batch to ``device`` (asynchronously when it sits in pinned memory)."""
    if device.type == "cpu":
        return batch
    return {k: v.to(device, non_blocking=True) for k, v in batch.items()}
