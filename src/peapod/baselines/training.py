"""What every RecBole baseline shares: its settings, its result, and the epoch loop with early
stopping on our validation metric (RecBole's trainer runs each epoch; our ranking validates)."""

from __future__ import annotations

import copy
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import pandas as pd

from peapod.progress import format_seconds

log = logging.getLogger(__name__)
STOP_METRIC = "ndcg@10"  # early stopping on the validation item


@dataclass
class TrainSettings:
    epochs: int = 300  # most epochs (RecBole default)
    stopping_step: int = 10  # epochs without a better validation NDCG@10 before stopping (RecBole default)
    max_seq_length: int = 50  # sequential: MAX_ITEM_LIST_LENGTH, items of history read (RecBole default)
    exclude_history: bool = True  # sequential: remove the user's earlier items from the ranking
    eval_batch_size: int = 1024  # users ranked at once (memory: batch x catalogue floats)
    seed: int = 0  # RecBole init_seed
    recbole: dict[str, Any] = field(default_factory=dict)  # model settings passed to RecBole as they are


@dataclass
class BaselineResult:
    per_user: pd.DataFrame  # user_id, split, target, rank (+ history_length for sequential)
    epochs_run: int
    best_epoch: int  # 1-based
    history: list[dict[str, float]]  # per epoch: epoch, loss, valid ndcg@10, seconds
    info: dict[str, Any]
    model: Any = None  # the trained RecBole model (best epoch), for inspection; not written anywhere
    tokens: dict[str, list[str]] | None = None  # RecBole's token of each internal user / item id (inspection)


def train_with_early_stopping(name: str, model, trainer, train_data, settings: TrainSettings,
                              validate: Callable[[], float], rank_all: Callable[[], pd.DataFrame]) -> BaselineResult:
    """One RecBole training epoch at a time; ``validate()`` scores the model on the validation
    split (higher is better); the best epoch's weights are restored and ``rank_all()`` ranks."""
    best, best_epoch, best_state, history, waited = -1.0, -1, None, [], 0
    start = time.perf_counter()
    for epoch in range(settings.epochs):
        t0 = time.perf_counter()
        model.train()
        loss = trainer._train_epoch(train_data, epoch, show_progress=False)
        loss = float(sum(loss)) if isinstance(loss, tuple) else float(loss)
        valid = validate()
        seconds = time.perf_counter() - t0
        history.append({"epoch": epoch, "loss": loss, f"valid_{STOP_METRIC}": valid, "seconds": seconds})
        if valid > best:
            best, best_epoch, best_state, waited = valid, epoch, copy.deepcopy(model.state_dict()), 0
        else:
            waited += 1
        # The epoch cap bounds the time left; early stopping can only shorten it (at the soonest
        # after stopping_step - waited more epochs without a better validation score).
        per_epoch = (time.perf_counter() - start) / (epoch + 1)
        left_at_most = settings.epochs - epoch - 1
        left_at_least = min(left_at_most, settings.stopping_step - waited)
        log.info("%s epoch %d/%d: loss %.4f, valid %s %.4f (best %.4f at epoch %d), %.1fs/epoch, "
                 "ETA at most %s (%s if validation stops improving)",
                 name, epoch + 1, settings.epochs, loss, STOP_METRIC, valid, best, best_epoch + 1, seconds,
                 format_seconds(left_at_most * per_epoch), format_seconds(left_at_least * per_epoch))
        if waited >= settings.stopping_step:
            log.info("%s: no better validation %s for %d epochs: stopped", name, STOP_METRIC, waited)
            break
    model.load_state_dict(best_state)
    return BaselineResult(rank_all(), epochs_run=len(history), best_epoch=best_epoch + 1, history=history,
                          info={"train_seconds": round(time.perf_counter() - start, 3), "best_valid": best}, model=model)
