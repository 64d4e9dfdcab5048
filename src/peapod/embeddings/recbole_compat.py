"""RecBole 1.2.1 compatibility shims, all in one place.

RecBole 1.2.1 predates numpy 2, scipy 1.17 and torch 2.13's defaults, and writes files into the
current directory. :func:`recbole_sandbox` fixes all of that for the duration of a block:

* numpy 2: ``Config.compatibility_settings`` assigns ``np.float_``, ``np.complex_`` and
  ``np.unicode_``, which numpy 2 removed (AttributeError); it is replaced by a version that sets the
  old aliases (``np.float``, ``np.int``, ``np.bool``, ``np.long``, ...) from names numpy 2 has.
  RecBole's own code still uses those aliases (``np.long`` in layers, ``np.float`` in metrics), so
  they stay installed after the block (they only add names numpy 2 does not have).
* scipy 1.17: ``dok_matrix._update`` (a bulk dict update LightGCN's adjacency builder calls) was
  removed; it is restored as a bulk update of the matrix's key dictionary.
* torch 2.13: ``torch.load`` defaults to ``weights_only=True``, which refuses RecBole's checkpoints
  (they pickle the Config). RecBole's trainer module gets a ``torch.load`` that passes
  ``weights_only=False``, trusted because the only checkpoints it can reach are the ones the
  trainer itself just wrote into the sandbox (``Trainer.evaluate(load_best_model=True)``).
* stray files: the trainer's TensorBoard writer (``log_tensorboard/`` in the cwd) is redirected to
  the sandbox directory; ``checkpoint_dir`` and ``data_path`` are set there by the caller, and
  RecBole's file logger (``log/``) is never initialised.
* command line: ``Config`` parses ``sys.argv`` for ``--key=value`` overrides (so a pytest or
  Snakemake flag could change a setting); inside the block it sees only the program name.
* FutureWarnings: the libraries RecBole 1.2.1 calls (pandas, torch) warn about its calls of APIs
  they will change; nobody running the workflow can act on them, so inside the block they are not
  shown (a job's output keeps its own lines). Other warnings pass.
"""

from __future__ import annotations

import contextlib
import functools
import sys
import warnings
from pathlib import Path
from typing import Iterator

import numpy as np
import scipy.sparse as sp

_NUMPY_ALIASES = {
    "bool": np.bool_,
    "int": np.int_,
    "float": np.float64,
    "complex": np.complex128,
    "object": np.object_,
    "str": np.str_,
    "long": np.int_,
    "unicode": np.str_,
    "float_": np.float64,
    "complex_": np.complex128,
    "unicode_": np.str_,
}


def base_config(data_path: str | Path, workdir: str | Path) -> dict:
    """The RecBole settings every use here shares: our atomic files' fields (user_id, item_id tokens,
    no rating), no filtering, CPU, quiet, nothing saved outside the sandbox, reproducible."""
    return {
        "data_path": str(data_path),
        "checkpoint_dir": str(Path(workdir) / "saved"),
        "USER_ID_FIELD": "user_id",
        "ITEM_ID_FIELD": "item_id",
        "RATING_FIELD": None,
        "user_inter_num_interval": "[0,inf)",
        "item_inter_num_interval": "[0,inf)",
        "device": "cpu",
        "use_gpu": False,
        "show_progress": False,
        "save_dataset": False,
        "save_dataloaders": False,
        "log_wandb": False,
        "reproducibility": True,
    }


def _compatibility_settings(self) -> None:  # replaces recbole.config.Config.compatibility_settings
    install_numpy_aliases()


def install_numpy_aliases() -> None:
    """Give numpy 2 the removed aliases RecBole uses (only the missing ones; idempotent)."""
    for name, value in _NUMPY_ALIASES.items():
        if name not in np.__dict__:
            setattr(np, name, value)


def _dok_update(self, data: dict) -> None:  # scipy < 1.12 dok_matrix._update
    self._dict.update(data)


@contextlib.contextmanager
def recbole_sandbox(workdir: str | Path) -> Iterator[Path]:
    """Patch RecBole for this environment inside the block; ``workdir`` receives anything RecBole
    writes (TensorBoard events, checkpoints). The patches are undone afterwards."""
    import torch
    import recbole.config.configurator as configurator
    import recbole.trainer.trainer as trainer_module
    from torch.utils.tensorboard import SummaryWriter

    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    install_numpy_aliases()
    saved = {
        "compat": configurator.Config.compatibility_settings,
        "tensorboard": trainer_module.get_tensorboard,
        "torch": trainer_module.torch,
        "dok_update": sp.dok_matrix.__dict__.get("_update"),
    }

    class _TorchWithTrustedLoad:
        """``torch`` as RecBole's trainer sees it, with checkpoint loading that accepts its pickles."""

        def __getattr__(self, name):
            return getattr(torch, name)

        load = staticmethod(functools.partial(torch.load, weights_only=False))

    saved["argv"] = sys.argv
    sys.argv = sys.argv[:1]
    configurator.Config.compatibility_settings = _compatibility_settings
    trainer_module.get_tensorboard = lambda logger: SummaryWriter(str(workdir / "tensorboard"))
    trainer_module.torch = _TorchWithTrustedLoad()
    if not hasattr(sp.dok_matrix, "_update"):
        sp.dok_matrix._update = _dok_update
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # RecBole's calls of changing APIs: noise here
            yield workdir
    finally:
        sys.argv = saved["argv"]
        configurator.Config.compatibility_settings = saved["compat"]
        trainer_module.get_tensorboard = saved["tensorboard"]
        trainer_module.torch = saved["torch"]
        if saved["dok_update"] is None and "_update" in sp.dok_matrix.__dict__:
            del sp.dok_matrix._update
