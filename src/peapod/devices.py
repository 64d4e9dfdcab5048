"""One job per GPU: each generator job claims a free device slot with a file lock.

``snakemake --resources gpu=N`` only bounds how many GPU jobs run at once; it does not say which
device each one should use, so without a claim every job lands on ``cuda:0``. A job therefore takes
an exclusive ``fcntl.flock`` on one lock file per (device, slot) in a node-local directory. The
kernel drops a flock when its file is closed, including when the process exits, crashes or is
SIGKILLed, so a claim can never outlive its job and needs no clean-up. ``jobs_per_device`` > 1 gives
each device that many slots (several small runs sharing one large GPU; run with
``--resources gpu=<devices x jobs_per_device>``).

Devices are those the job may see: ``CUDA_VISIBLE_DEVICES`` when set (as SLURM sets it), else every
device torch counts. Lock files are named by the physical device (SLURM's ``SLURM_STEP_GPUS`` /
``SLURM_JOB_GPUS`` when they match the visible list, since under ``ConstrainDevices`` every job sees
its own GPU as 0) and the host, so jobs with different masks on one node never take the same GPU
twice. Without a usable CUDA device the claim is the CPU and takes no lock.
"""

from __future__ import annotations

import fcntl
import logging
import os
import socket
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

log = logging.getLogger(__name__)

HIDDEN = {"", "-1", "none", "nodevfiles"}  # CUDA_VISIBLE_DEVICES values meaning "no device"


def default_lock_dir() -> Path:
    """Node-local, per user (lock files of another user could not be opened for writing)."""
    return Path(tempfile.gettempdir()) / f"peapod-device-locks-{os.getuid()}"


def visible_devices(env: Mapping[str, str] | None = None, device_count: int | None = None) -> list[str]:
    """Physical names of the CUDA devices this process may use, in torch's ordinal order.

    ``device_count``: how many devices torch sees (None: ask torch). Entry i of the result is
    ``cuda:i``'s physical name.
    """
    env = os.environ if env is None else env
    if device_count is None:
        device_count = cuda_device_count()
    mask = env.get("CUDA_VISIBLE_DEVICES")
    if mask is None:
        names = [str(i) for i in range(device_count)]
    else:
        names = []
        for entry in mask.split(","):
            entry = entry.strip()
            if entry.lower() in HIDDEN or entry.startswith("-"):
                break  # CUDA stops at the first invalid entry
            names.append(entry)
        for key in ("SLURM_STEP_GPUS", "SLURM_JOB_GPUS"):
            slurm = [s.strip() for s in env.get(key, "").split(",") if s.strip()]
            if len(slurm) == len(names):
                names = slurm
                break
    return names[:device_count]


def cuda_device_count() -> int:
    """Devices torch can use (0 without CUDA); imports torch only when called."""
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


@dataclass
class DeviceClaim:
    """A claimed device: ``device`` is what torch takes (``cuda:i`` or ``cpu``)."""

    device: str
    physical: str | None = None
    slot: int | None = None
    lock_path: Path | None = None
    _fd: int | None = field(default=None, repr=False)

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # drops the flock
            self._fd = None

    def __enter__(self) -> "DeviceClaim":
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def lock_path(lock_dir: Path, physical: str, slot: int, host: str | None = None) -> Path:
    return Path(lock_dir) / f"{_safe(host or socket.gethostname())}.gpu{_safe(physical)}.slot{slot}.lock"


def try_lock(path: Path) -> int | None:
    """An fd holding an exclusive flock on ``path``, or None when another process holds it."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    except BaseException:
        os.close(fd)
        raise
    return fd


def try_claim(devices: list[str], jobs_per_device: int, lock_dir: Path) -> DeviceClaim | None:
    """Claim the first free slot, filling every device's slot 0 before any slot 1 (spreads jobs)."""
    lock_dir.mkdir(parents=True, exist_ok=True)
    for slot in range(jobs_per_device):
        for index, physical in enumerate(devices):
            path = lock_path(lock_dir, physical, slot)
            fd = try_lock(path)
            if fd is None:
                continue
            os.ftruncate(fd, 0)
            os.write(fd, f"pid {os.getpid()} cuda:{index}\n".encode())
            return DeviceClaim(f"cuda:{index}", physical, slot, path, fd)
    return None


def claim_device(jobs_per_device: int = 1, lock_dir: str | Path | None = None, *,
                 devices: list[str] | None = None, timeout_s: float | None = None, poll_s: float = 1.0,
                 sleep: Callable[[float], None] = time.sleep) -> DeviceClaim:
    """Claim a device slot for this process (release it, or use ``with``; exiting releases it too).

    ``devices``: physical names (None: ``visible_devices()``); empty means CPU, no lock. When every
    slot is taken, wait (logging once) until one frees or ``timeout_s`` passes (None: no limit).
    """
    if jobs_per_device < 1:
        raise ValueError(f"jobs_per_device must be at least 1, got {jobs_per_device}")
    devices = visible_devices() if devices is None else devices
    if not devices:
        return DeviceClaim("cpu")
    lock_dir = Path(lock_dir) if lock_dir else default_lock_dir()
    start = time.monotonic()
    waited = False
    while True:
        claim = try_claim(devices, jobs_per_device, lock_dir)
        if claim is not None:
            log.info("claimed %s (physical GPU %s, slot %d of %d; lock %s)", claim.device, claim.physical,
                     claim.slot + 1, jobs_per_device, claim.lock_path)
            return claim
        if timeout_s is not None and time.monotonic() - start >= timeout_s:
            raise TimeoutError(f"all {len(devices) * jobs_per_device} device slots in {lock_dir} stayed "
                               f"busy for {timeout_s:.0f} s (GPUs {', '.join(devices)}, "
                               f"{jobs_per_device} job(s) each)")
        if not waited:
            log.warning("all %d device slots are busy (GPUs %s, %d job(s) each; locks in %s): waiting",
                        len(devices) * jobs_per_device, ", ".join(devices), jobs_per_device, lock_dir)
            waited = True
        sleep(poll_s)


def use_device(claim: DeviceClaim) -> None:
    """Make the claimed device torch's current one (so implicit allocations land there too)."""
    if claim.device.startswith("cuda"):
        import torch

        torch.cuda.set_device(claim.device)


PRECISIONS = ("auto", "float32", "bf16")
_precision = "auto"


def set_precision(mode: str) -> None:
    """Choose the process's precision (``devices.precision``; peapod.generator.runtime applies it)."""
    global _precision
    if mode not in PRECISIONS:
        raise ValueError(f"precision {mode!r}: expected one of {', '.join(PRECISIONS)}")
    _precision = mode


def precision() -> str:
    return _precision


def claim_from_config(config: Mapping) -> DeviceClaim:
    """Claim per the workflow config's ``devices`` section (jobs_per_device, lock_dir), and set the
    job's precision (``devices.precision``, set_precision; peapod.generator.runtime applies it)."""
    section = config.get("devices") or {}
    set_precision(section.get("precision", "auto"))
    claim = claim_device(int(section.get("jobs_per_device", 1)), section.get("lock_dir"))
    use_device(claim)
    return claim
