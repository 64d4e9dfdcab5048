"""Seed statistics: summaries with 95% confidence intervals, t-tests (scipy) and Holm correction."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

CONFIDENCE = 0.95


def confidence_interval(values: Sequence[float], confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Student-t interval for the mean of ``values``; (nan, nan) with fewer than two values."""
    x = np.asarray(values, dtype=float)
    n = len(x)
    if n < 2:
        return (math.nan, math.nan)
    mean = float(x.mean())
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1) * x.std(ddof=1) / math.sqrt(n))
    return (mean - half, mean + half)


def summarize(tidy: pd.DataFrame, by: Sequence[str], expected_seeds: Sequence[int] | None = None) -> pd.DataFrame:
    """Per group: n_seeds, mean, std (ddof 1), sem, 95% CI, the seeds used and the expected seeds missing.

    NaN values are not counted (``collect_runs`` reports them); ``n_seeds`` is what the numbers rest on.
    """
    rows = []
    for key, group in tidy.groupby(list(by), sort=True, dropna=False):
        key = key if isinstance(key, tuple) else (key,)
        ok = group.dropna(subset=["value"]).sort_values("seed")
        x = ok["value"].to_numpy(dtype=float)
        n = len(x)
        low, high = confidence_interval(x)
        seeds = [int(s) for s in ok["seed"]]
        missing = sorted(set(expected_seeds) - set(seeds)) if expected_seeds is not None else []
        rows.append(
            {
                **dict(zip(by, key)),
                "n_seeds": n,
                "mean": float(x.mean()) if n else math.nan,
                "std": float(x.std(ddof=1)) if n > 1 else math.nan,
                "sem": float(x.std(ddof=1) / math.sqrt(n)) if n > 1 else math.nan,
                "ci_low": low,
                "ci_high": high,
                "seeds": " ".join(map(str, seeds)),
                "missing_seeds": " ".join(map(str, missing)),
            }
        )
    columns = [*by, "n_seeds", "mean", "std", "sem", "ci_low", "ci_high", "seeds", "missing_seeds"]
    return pd.DataFrame(rows, columns=columns)


@dataclass(frozen=True)
class TTest:
    """One t-test: statistic, two-sided p, degrees of freedom, and the n it rests on."""

    statistic: float
    pvalue: float
    df: float
    n: int
    mean: float  # mean of the sample (one-sample) or of the differences (paired)
    note: str = ""

    def asdict(self) -> dict:
        return asdict(self)


def one_sample_ttest(scores: Sequence[float], reported: float) -> TTest:
    """Student's one-sample t-test of the seed scores against a reported value (the paper's protocol).

    Two-sided, as scipy computes it. With fewer than two scores there is no test (p = nan) and the
    note says so; with zero spread scipy's result (t = +-inf, p = 0, or nan when equal) is kept and noted.
    """
    x = np.asarray([s for s in scores if not math.isnan(s)], dtype=float)
    n = len(x)
    if n < 2:
        return TTest(math.nan, math.nan, math.nan, n, float(x.mean()) if n else math.nan, f"n={n}: no test")
    note = "zero spread over seeds" if np.ptp(x) == 0 else ""
    with np.errstate(divide="ignore", invalid="ignore"):
        res = stats.ttest_1samp(x, reported)
    return TTest(float(res.statistic), float(res.pvalue), float(n - 1), n, float(x.mean()), note)


def paired_ttest(a: Mapping[int, float], b: Mapping[int, float], unit: str = "seeds") -> tuple[TTest, list[int]]:
    """Paired t-test of a - b over the keys both have (seeds, or users: ``unit`` names them in the
    note), two-sided; also returns the unpaired keys.

    A key present in only one of the two is left out of the test and returned, so the caller
    reports it; the test's n says how many pairs it used.
    """
    a = {int(k): float(v) for k, v in a.items() if not math.isnan(v)}
    b = {int(k): float(v) for k, v in b.items() if not math.isnan(v)}
    shared = sorted(set(a) & set(b))
    unpaired = sorted(set(a) ^ set(b))
    n = len(shared)
    xa = np.array([a[s] for s in shared])
    xb = np.array([b[s] for s in shared])
    if n < 2:
        mean = float((xa - xb).mean()) if n else math.nan
        return TTest(math.nan, math.nan, math.nan, n, mean, f"n={n} shared {unit}: no test"), unpaired
    diff = xa - xb
    note = "zero spread of differences" if np.ptp(diff) == 0 else ""
    with np.errstate(divide="ignore", invalid="ignore"):
        res = stats.ttest_rel(xa, xb)
    return TTest(float(res.statistic), float(res.pvalue), float(n - 1), n, float(diff.mean()), note), unpaired


def holm(pvalues: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjusted p-values (family-wise error), in the input order.

    Sort the m p-values ascending; the k-th smallest (k = 1..m) gets (m - k + 1) p, made non-decreasing
    along the order and capped at 1. NaN p-values (no test) are not part of the family and stay NaN.
    """
    p = np.asarray(pvalues, dtype=float)
    out = np.full(p.shape, np.nan)
    idx = np.flatnonzero(~np.isnan(p))
    m = len(idx)
    if m == 0:
        return out
    order = idx[np.argsort(p[idx], kind="stable")]
    adjusted = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    out[order] = adjusted
    return out
