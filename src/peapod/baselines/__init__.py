"""Baselines trained or computed on exactly our split, ranked by our metrics code.

  id_order    model-free probes of P5's id-order leak (next item = last item's id + 1, ...)
  settings    the baselines: section of the config, typed (models, per-model settings, overrides)
  recbole_data  our sequences table as RecBole atomic files, split by RecBole's leave-one-out
  sequential  SASRec, GRU4Rec, BERT4Rec by RecBole, ranked over the whole catalogue
  topn        MF (BPR) and MLP (NeuMF's MLP tower) by RecBole, ranked over our 100 candidates
  stage       one (dataset, model, seed) run: metrics.parquet, per_user.parquet, run.json
"""
