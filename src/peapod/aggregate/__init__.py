"""Aggregation over seeds: tidy metrics, t-tests against the papers, the papers' tables, verdicts and figures.

Modules:
  settings   each variant's full generator settings (defaults + overrides) and the expected runs
  collect    per-run metrics files -> one tidy table; missing runs and seeds reported, not dropped
  stats      seed summaries (mean, sd, 95% CI, n), one-sample and paired t-tests, Holm correction
  reported   the papers' reported numbers (resources/reported/paper_tables.csv), validated; which
             paper table is which of ours, and which variant reproduces which reported model
  methods    which evaluation method stands for the paper's numbers (the rest are extra rows)
  baselines  most-popular and the CF models' own ranking on exactly our data
  compare    the families of tests behind the tables (vs reported, between variants) and the verdicts
  tables     the papers' tables as Markdown, LaTeX (booktabs), HTML and CSV; bold/underline/star
  claims     the papers' claims that only figures carry, as data, checked by paired tests
  figures    the ablation figures and the reproduced-versus-reported figure (PNG and PDF)
  pipeline   one function per workflow rule, on files
"""
