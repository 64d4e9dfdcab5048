"""One job per GPU: device claims by file lock, on CPU with simulated devices and real processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from peapod.devices import DeviceClaim, claim_device, claim_from_config, visible_devices
from tests.helpers import REPO

# A job: claim a slot among the simulated devices, record it, hold it for a while, exit.
JOB = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from peapod.devices import claim_device
    devices, per_device, lock_dir, out, hold, go = sys.argv[1:7]
    Path(out + ".ready").touch()  # imported: ready to start
    while not Path(go).exists():  # start together
        time.sleep(0.005)
    claim = claim_device(int(per_device), lock_dir, devices=devices.split(","), poll_s=0.01)
    start = time.time()
    time.sleep(float(hold))
    Path(out).write_text(f"{claim.physical} {claim.slot} {claim.device} {start} {time.time()}")
""")


def job_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")])}


def run_jobs(tmp_path: Path, n_jobs: int, devices: list[str], per_device: int, hold: float) -> list[tuple]:
    locks, go = tmp_path / "locks", tmp_path / "go"
    procs = [subprocess.Popen([sys.executable, "-c", JOB, ",".join(devices), str(per_device), str(locks),
                               str(tmp_path / f"job{i}.txt"), str(hold), str(go)], env=job_env())
             for i in range(n_jobs)]
    # Start together once every interpreter has said it is ready (an event, not a guess at how long
    # starting takes on a loaded machine).
    ready = [tmp_path / f"job{i}.txt.ready" for i in range(n_jobs)]
    deadline = time.monotonic() + 120
    while not all(r.exists() for r in ready):
        assert time.monotonic() < deadline, f"jobs not started after 120 s: {[r.name for r in ready if not r.exists()]}"
        assert all(p.poll() is None for p in procs), "a job exited before it started"
        time.sleep(0.01)
    go.touch()
    assert [p.wait(timeout=120) for p in procs] == [0] * n_jobs
    rows = [(tmp_path / f"job{i}.txt").read_text().split() for i in range(n_jobs)]
    return [(physical, int(slot), device, float(start), float(end)) for physical, slot, device, start, end in rows]


def test_visible_devices_honour_cuda_visible_devices_and_slurm():
    assert visible_devices({}, device_count=3) == ["0", "1", "2"]
    assert visible_devices({"CUDA_VISIBLE_DEVICES": "2,3"}, device_count=2) == ["2", "3"]
    assert visible_devices({"CUDA_VISIBLE_DEVICES": ""}, device_count=0) == []
    assert visible_devices({"CUDA_VISIBLE_DEVICES": "1,-1,2"}, device_count=1) == ["1"]
    assert visible_devices({"CUDA_VISIBLE_DEVICES": "GPU-ab12"}, device_count=1) == ["GPU-ab12"]
    # SLURM with ConstrainDevices shows each job its GPU as 0; the lock is named by the real index.
    assert visible_devices({"CUDA_VISIBLE_DEVICES": "0", "SLURM_JOB_GPUS": "5"}, device_count=1) == ["5"]
    # A mask without a usable CUDA (SLURM's stand-in GPU on a CPU node) means the CPU.
    assert visible_devices({"CUDA_VISIBLE_DEVICES": "0"}, device_count=0) == []


def test_no_device_means_cpu_and_no_lock(tmp_path):
    claim = claim_device(1, tmp_path, devices=[])
    assert claim.device == "cpu" and claim.lock_path is None
    claim.release()
    assert not list(tmp_path.iterdir())


def test_claims_fill_every_device_before_sharing_one(tmp_path):
    claims = [claim_device(2, tmp_path, devices=["0", "1", "2"], timeout_s=0) for _ in range(6)]
    assert [(c.device, c.slot) for c in claims] == [("cuda:0", 0), ("cuda:1", 0), ("cuda:2", 0),
                                                   ("cuda:0", 1), ("cuda:1", 1), ("cuda:2", 1)]
    with pytest.raises(TimeoutError, match="all 6 device slots"):
        claim_device(2, tmp_path, devices=["0", "1", "2"], timeout_s=0)
    claims[4].release()
    with claim_device(2, tmp_path, devices=["0", "1", "2"], timeout_s=0) as again:
        assert (again.device, again.slot) == ("cuda:1", 1)
    for claim in claims:
        claim.release()


def test_config_key_and_bad_value(tmp_path, monkeypatch):
    """The config's lock_dir and jobs_per_device decide the claims: with one simulated GPU and two
    jobs per device, two claims share it in slots 0 and 1, their locks in lock_dir; the claimed
    device is made current."""
    import peapod.devices as devices

    made_current = []
    monkeypatch.setattr(devices, "visible_devices", lambda: ["7"])
    monkeypatch.setattr(devices, "use_device", lambda claim: made_current.append(claim.device))
    section = {"devices": {"jobs_per_device": 2, "lock_dir": str(tmp_path / "locks")}}
    first, second = claim_from_config(section), claim_from_config(section)
    assert isinstance(first, DeviceClaim) and made_current == ["cuda:0", "cuda:0"]
    assert (first.physical, first.slot, second.physical, second.slot) == ("7", 0, "7", 1)
    assert sorted(p.name[-15:] for p in (tmp_path / "locks").iterdir()) == ["gpu7.slot0.lock", "gpu7.slot1.lock"]
    first.release()
    third = claim_from_config(section)  # the freed slot is taken again
    assert third.slot == 0
    second.release()
    third.release()
    with pytest.raises(ValueError, match="jobs_per_device must be at least 1"):
        claim_device(0, tmp_path, devices=["0"])


@pytest.mark.parametrize("n_devices,per_device", [(4, 1), (2, 2)])
def test_concurrent_jobs_never_share_a_slot(tmp_path, n_devices, per_device):
    """As many jobs as slots, started at once: each gets its own (device, slot)."""
    devices = [str(i) for i in range(n_devices)]
    got = run_jobs(tmp_path, n_devices * per_device, devices, per_device, hold=0.5)
    slots = {(physical, slot) for physical, slot, *_ in got}
    assert len(slots) == n_devices * per_device
    assert {device for _, _, device, *_ in got} == {f"cuda:{i}" for i in range(n_devices)}


def test_more_jobs_than_devices_wait_their_turn(tmp_path):
    """Five jobs on two devices: at no moment do two jobs hold the same device."""
    got = run_jobs(tmp_path, 5, ["0", "1"], 1, hold=0.4)
    for device in ("0", "1"):
        spans = sorted((start, end) for physical, _, _, start, end in got if physical == device)
        assert all(earlier[1] <= later[0] for earlier, later in zip(spans, spans[1:])), (device, spans)


def test_claim_is_freed_when_its_holder_is_killed(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from peapod.devices import claim_device; "
         "c = claim_device(1, sys.argv[1], devices=['0']); print(c.device, flush=True); time.sleep(600)",
         str(tmp_path)], env=job_env(), stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "cuda:0"
        with pytest.raises(TimeoutError):
            claim_device(1, tmp_path, devices=["0"], timeout_s=0)
    finally:
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()
    with claim_device(1, tmp_path, devices=["0"], timeout_s=0) as claim:
        assert claim.device == "cuda:0"
