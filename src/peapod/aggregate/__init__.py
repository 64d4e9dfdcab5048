"""Aggregation over seeds: tidy metrics, t-tests against the paper, the paper's tables and figures.

Modules:
  settings  each variant's full generator settings (defaults + overrides) and the expected runs
  collect   per-run metrics files -> one tidy table; missing runs and seeds reported, not dropped
  stats     seed summaries (mean, sd, 95% CI, n), one-sample and paired t-tests, Holm correction
  reported  the paper's reported numbers (config/reported.yaml), validated
  compare   the families of tests behind the tables (vs reported baselines, between variants)
  tables    the paper's tables as Markdown, LaTeX (booktabs), HTML and CSV; bold/underline/star
  figures   the ablation figures (PNG and PDF) with error bars from the seeds
"""
