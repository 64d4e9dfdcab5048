"""What one evaluation reads: its settings (EvalSettings: the config's evaluation section) and the
held-out prompts of one split (EvalData: sequences, candidates, explanations and catalogue from the
data stage's tables, or a fixed user sample of them). peapod.evaluation.evaluate runs the tasks on them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from peapod.data.tables import GENERATOR_TABLES, item_catalogue, read_tables, table_paths, user_sequences
from peapod.sampling import UserSample, evaluation_sample, split_history_lengths
from peapod.splits import EVAL_SPLITS

# Top-n methods: the paper's free beam search, beams restricted to the candidates, exact scoring, and
# exact scoring under another user's prompt (a control: what item priors alone score).
TOPN_METHODS = ("beam", "beam_candidates", "scoring", "scoring_blind")
# Explanation scoring styles and the method name each one's metrics carry.
EXPLANATION_SCORING = {"standard": "beam", "reference": "beam_reference"}
# Which method stands for the paper's numbers is peapod.aggregate.methods' to say.


@dataclass
class EvalSettings:
    split: str = "test"  # test | valid
    beams: int = 20  # beam width of sequential and top-n generation
    top_k: int = 10  # items returned per user by beam search
    constrained: bool = False  # sequential: restrict beams to catalogue ids (prefix trie); the paper decodes freely
    topn_methods: tuple[str, ...] = TOPN_METHODS  # top-n protocols to run (TOPN_METHODS)
    explanation_scoring: tuple[str, ...] = ("standard", "reference")  # EXPLANATION_SCORING styles
    explanation_beams: int = 7  # = the protocol's 21 beams in 3 groups without diversity penalty
    explanation_min_length: int = 10  # generated explanation length bounds (tokens)
    explanation_max_length: int = 50
    batch_size: int = 32  # inference batch size (prompts)
    scoring_memory_mib: float = 4096  # working-memory budget of exact candidate scoring
    sample_users: int | None = None  # evaluate a fixed sample of this many users (stratified by history); None: all
    sample_seed: int = 2022  # seed of that sample (the same users for every run)
    progress_seconds: float = 30.0  # a progress line per task at least this often (users done, rate, ETA)
    max_users: int | None = None  # evaluate only the first N users / explanations (benchmarks)

    def __post_init__(self) -> None:
        if self.split not in EVAL_SPLITS:
            raise ValueError(f"split must be test or valid, not {self.split!r}")
        self.topn_methods = tuple(self.topn_methods)
        self.explanation_scoring = tuple(self.explanation_scoring)
        unknown = set(self.topn_methods) - set(TOPN_METHODS)
        if unknown:
            raise ValueError(f"unknown top-n methods {sorted(unknown)}; known: {list(TOPN_METHODS)}")
        unknown = set(self.explanation_scoring) - set(EXPLANATION_SCORING)
        if unknown or not self.explanation_scoring:
            raise ValueError(f"explanation_scoring {list(self.explanation_scoring)} must be a non-empty subset of "
                             f"{list(EXPLANATION_SCORING)}")
        if self.top_k > self.beams:
            raise ValueError("top_k cannot exceed the number of beams")
        if self.sample_users is not None and self.sample_users < 1:
            raise ValueError(f"sample_users must be >= 1 or None, not {self.sample_users}")


@dataclass
class EvalData:
    """The held-out prompts of one split, from the data stage's tables."""

    sequences: dict[int, np.ndarray]  # user -> all items in time order
    candidates: pd.DataFrame  # user_id, target, negatives of the split
    explanations: pd.DataFrame  # user_id, item_id, explanation of the split
    catalogue: np.ndarray  # all item ids
    sample: UserSample | None = None  # set when only a sample of the split's users is evaluated

    @classmethod
    def from_tables(cls, tables: dict[str, pa.Table], split: str) -> "EvalData":
        cand, exp = tables["candidates"].to_pandas(), tables["explanations"].to_pandas()
        return cls(
            user_sequences(tables["sequences"]),
            cand[cand["split"] == split].sort_values("user_id").reset_index(drop=True),
            exp[exp["split"] == split].reset_index(drop=True),
            item_catalogue(tables["items"]),
        )

    @classmethod
    def from_files(cls, paths: dict[str, str | Path], split: str) -> "EvalData":
        """From the data stage's files ({table name: path}; GENERATOR_TABLES)."""
        return cls.from_tables(read_tables({name: paths[name] for name in GENERATOR_TABLES}), split)

    @classmethod
    def from_directory(cls, data_dir: str | Path, split: str) -> "EvalData":
        return cls.from_files(table_paths(data_dir, GENERATOR_TABLES), split)

    def history_lengths(self, users, split: str) -> np.ndarray:
        """Items before the held-out target of ``split`` (test: all but the last; valid: all but two)."""
        return split_history_lengths(self.sequences, users, split)

    def sampled(self, n: int, seed: int, split: str) -> "EvalData":
        """Only a fixed sample of ``n`` users, stratified by history length (see
        peapod.sampling.evaluation_sample); every task keeps just those users' prompts."""
        sample = evaluation_sample(self.sequences, split, n, seed)
        keep = set(sample.users.tolist())
        return EvalData(
            {u: s for u, s in self.sequences.items() if u in keep},
            self.candidates[self.candidates["user_id"].isin(keep)].reset_index(drop=True),
            self.explanations[self.explanations["user_id"].isin(keep)].reset_index(drop=True),
            self.catalogue,
            sample,
        )
