# Input functions and settings of the recommend stage's rules (recommend.smk includes this file; Snakemake's
# linter wants functions apart from rules). The workflow's shared helpers are in common.smk.

RECOMMEND = config["recommend"]
RECOMMEND_VARIANTS = list(RECOMMEND["variants"] or list(VARIANTS)[:1])
RECOMMEND_SEEDS = [int(s) for s in RECOMMEND["seeds"] or SEEDS[:1]]
_unknown = [v for v in RECOMMEND_VARIANTS if v not in VARIANTS]
if _unknown:
    raise ValueError(f"recommend.variants names {_unknown}, not defined under variants: ({list(VARIANTS)})")


def recommend_file(key, wildcards):
    """recommend.users or recommend.pairs of one dataset ({dataset} replaced), or None."""
    path = RECOMMEND[key]
    return None if path is None else path.format(dataset=wildcards.dataset)


def recommend_pairs(wildcards):
    path = recommend_file("pairs", wildcards)
    if path is None:
        raise ValueError("explanations of pairs need recommend.pairs: a file of (user, item) pairs")
    return path


def recommend_inputs(wildcards):
    """A finished run's exported model, the tables that name users and items, the templates, the
    run's CF files (checked against the hashes it recorded) and the users file when there is one."""
    run = {"dataset": wildcards.dataset, "variant": wildcards.variant, "seed": wildcards.seed}
    inputs = {role: getattr(rules.train_generator.output, role).format(**run)
              for role in ("model", "config", "tokenizer", "tokenizer_config")}
    inputs.update(data_tables(wildcards, ("users", "items", "sequences")))
    inputs["templates"] = "config/templates.yaml"
    run_inputs = generator_inputs(wildcards)
    for key in ("embeddings", "neighbors"):
        if key in run_inputs:
            inputs[key] = run_inputs[key]
    users = recommend_file("users", wildcards)
    if users is not None:
        inputs["users"] = users
    return inputs


def recommend_settings(wildcards):
    keys = ("top_k", "beams", "history", "exclude_history", "batch_size")
    return {key: RECOMMEND[key] for key in keys}


def recommendation_targets(wildcards):
    """What `snakemake recommendations` builds: next items of every (dataset, variant, seed) of
    recommend:, and explanations where a pairs file is set."""
    names = ["next_items.parquet"] + (["explanations.parquet"] if RECOMMEND["pairs"] else [])
    return [f"{paths.RECOMMENDATIONS_DIR}/{name}".format(dataset=d, variant=v, seed=s)
            for d in DATASETS for v in RECOMMEND_VARIANTS for s in RECOMMEND_SEEDS for name in names]
