# Input functions and settings of the recommend stage's rules (recommend.smk includes this file; Snakemake's
# linter wants functions apart from rules). The workflow's shared helpers are in common.smk.

RECOMMEND = config["recommend"]
RECOMMEND_VARIANTS = list(RECOMMEND["variants"] or list(VARIANTS)[:1])
RECOMMEND_SEEDS = [int(s) for s in RECOMMEND["seeds"] or SEEDS[:1]]
_unknown = [v for v in RECOMMEND_VARIANTS if v not in VARIANTS]
if _unknown:  # the message alone: a traceback into the Snakefile helps nobody
    sys.exit(f"recommend.variants names {_unknown}, not defined under variants: ({list(VARIANTS)})")
# Each dataset's request (peapod.evaluation.recommend_request): what it asks, read now (the users and
# pairs files hashed), and the name its outputs go under, so that no request overwrites another.
# Recommendations come from the datasets themselves, not their id-order twins (a control, never served).
RECOMMEND_DATASETS = list(PLAN.datasets)  # the plan's datasets leave the twins out
RECOMMEND_ASKED = {d: recommend_request.asked(RECOMMEND, config["evaluation"], d) for d in RECOMMEND_DATASETS}
RECOMMEND_NAMES = {d: recommend_request.request_name(RECOMMEND["label"], RECOMMEND_ASKED[d])
                   for d in RECOMMEND_DATASETS}


def recommend_load_problems():
    """What the workflow checks of recommend: when it loads (peapod.preflight): a label already used
    for another request, and users or pairs the dataset lacks (once its tables exist)."""
    problems = []
    for dataset, name in RECOMMEND_NAMES.items():
        if RECOMMEND["label"] is not None:
            why = recommend_request.conflict(paths.RECOMMEND_REQUEST.format(dataset=dataset, request=name),
                                             RECOMMEND_ASKED[dataset])
            problems += [why] if why else []
        problems += preflight.request_problems(dataset, request_file("users", dataset), request_file("pairs", dataset))
    return problems


def recommend_request_name(wildcards):
    """The configured request's name on a dataset; stops on a path with another name (an earlier
    request's, or a label the config no longer sets). A label already used for another request
    stops the workflow when it loads (recommend_load_problems)."""
    if wildcards.dataset not in RECOMMEND_NAMES:
        raise ValueError(f"{wildcards.dataset} is an id-order twin (a control): recommendations come from "
                         f"{config['datasets'][wildcards.dataset]['twin_of']}")
    name = RECOMMEND_NAMES[wildcards.dataset]
    if wildcards.request != name:
        raise ValueError(
            f"results/{wildcards.dataset}/recommendations/{wildcards.request}/ is not the configured request, "
            f"which recommend: names {name!r} on {wildcards.dataset} (recommend.label, else a hash of what "
            "is asked): ask for that name (snakemake recommendations does), or configure the request made "
            f"as {wildcards.request!r} (its request.json says what it asked)")
    return name


def request_file(key, dataset):
    """recommend.users or recommend.pairs of one dataset ({dataset} replaced), or None."""
    path = RECOMMEND[key]
    return None if path is None else path.format(dataset=dataset)


def recommend_file(key, wildcards):
    return request_file(key, wildcards.dataset)


def recommend_pairs(wildcards):
    path = recommend_file("pairs", wildcards)
    if path is None:
        raise ValueError("explanations of pairs need recommend.pairs: a file of (user, item) pairs")
    return path


def recommend_inputs(wildcards):
    """A finished run's exported model, the tables that name users and items, the templates, the
    run's CF files (checked against the hashes it recorded) and the users file when there is one."""
    recommend_request_name(wildcards)
    run = {"dataset": wildcards.dataset, "variant": wildcards.variant, "seed": wildcards.seed,
           "run_key": RUN_KEYS[wildcards.dataset, wildcards.variant]}  # the run of this config's settings
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


def request_lists(dataset, name):
    """The files of a request on a dataset: next items of every (variant, seed) of recommend:, and
    explanations where a pairs file is set."""
    names = ["next_items.parquet"] + (["explanations.parquet"] if RECOMMEND["pairs"] else [])
    return [f"{paths.RECOMMENDATIONS_DIR}/{file}".format(dataset=dataset, request=name, variant=v, seed=s)
            for v in RECOMMEND_VARIANTS for s in RECOMMEND_SEEDS for file in names]


def recommend_request_inputs(wildcards):
    """The users and pairs files a request names (request.json records their hashes), and its lists:
    request.json is written last, so a failed request leaves none beside missing lists."""
    name = recommend_request_name(wildcards)
    files = {key: recommend_file(key, wildcards) for key in ("users", "pairs")}
    inputs = {key: path for key, path in files.items() if path is not None}
    inputs["lists"] = request_lists(wildcards.dataset, name)
    return inputs


def recommend_request_record(wildcards):
    name = recommend_request_name(wildcards)
    asked = RECOMMEND_ASKED[wildcards.dataset]
    return recommend_request.request_record(name, RECOMMEND["label"], wildcards.dataset, asked,
                                            RECOMMEND_VARIANTS, RECOMMEND_SEEDS)


def recommend_settings(wildcards):
    keys = ("top_k", "beams", "history", "exclude_history", "batch_size")
    return {key: RECOMMEND[key] for key in keys}


def recommendation_targets(wildcards):
    """What `snakemake recommendations` builds: each dataset's request.json, after its lists
    (request_lists)."""
    return [paths.RECOMMEND_REQUEST.format(dataset=d, request=RECOMMEND_NAMES[d]) for d in RECOMMEND_DATASETS]
