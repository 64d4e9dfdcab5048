# Data stage: the demo generator and the P5-split preprocessing into Parquet tables.
# Outputs are named <table>_table because Snakemake reserves the name "items"; where they live is
# peapod.paths (as for every output another stage reads).

# Input functions of this stage (the workflow's shared helpers are in common.smk).
def data_spec(wildcards):
    """The dataset's entry as the data stage's params: without its embedding and baseline settings,
    so setting datasets.<name>.embeddings re-runs the embeddings, not the preprocessing."""
    return {k: v for k, v in dataset_spec(wildcards).items() if k not in ("embeddings", "baselines")}


def demo_settings(wildcards):
    return dataset_spec(wildcards).get("demo", {})


def preprocess_inputs(wildcards):
    """The raw files of one dataset, by role, for the preprocess rule."""
    spec = dataset_spec(wildcards)
    if spec["source"] == "demo":
        raw = rules.make_demo_dataset.output
        names = ("sequences", "negatives", "datamaps", "explanations")
        return {name: getattr(raw, name).format(dataset=wildcards.dataset) for name in names}
    if spec["source"] == "p5":
        return discover_p5_files(spec["path"])
    if spec["source"] == "interactions":
        return {"interactions": spec["path"]}
    inputs = {"reviews": reviews_input(spec["path"], config["download"], config["downloads"]["amazon_url"])}
    if "explanations" in spec:
        inputs["explanations"] = spec["explanations"]
    return inputs


rule make_demo_dataset:
    output:
        sequences=f"{paths.RAW_DIR}/sequential_data.txt",
        negatives=f"{paths.RAW_DIR}/negative_samples.txt",
        datamaps=f"{paths.RAW_DIR}/datamaps.json",
        explanations=f"{paths.RAW_DIR}/exp_splits.pkl",
        truth=f"{paths.RAW_DIR}/planted_structure.json",
    params:
        demo=demo_settings,
        n_negatives=config["preprocess"]["n_negatives"],
    log:
        "results/{dataset}/logs/make_demo_dataset.log",
    conda:
        "../../envs/data.yaml"
    script:
        "../scripts/make_demo_dataset.py"


rule preprocess:
    input:
        unpack(preprocess_inputs),
    output:
        **{f"{name}_table": paths.data_table(name) for name in DATA_TABLES},
        stats=paths.DATASET_STATS,
    params:
        spec=data_spec,
        n_negatives=config["preprocess"]["n_negatives"],
        negative_seed=config["preprocess"]["negative_seed"],
    log:
        "results/{dataset}/logs/preprocess.log",
    conda:
        "../../envs/data.yaml"
    script:
        "../scripts/preprocess.py"


rule tabulate_dataset_statistics:
    input:
        expand(rules.preprocess.output.stats, dataset=DATASETS),
    output:
        csv=report(
            paths.table_file("dataset_statistics.csv"),
            caption="../report/dataset_statistics.rst",
            category="Data",
        ),
        markdown=paths.table_file("dataset_statistics.md"),
    log:
        "results/logs/tabulate_dataset_statistics.log",
    conda:
        "../../envs/data.yaml"
    script:
        "../scripts/tabulate_dataset_statistics.py"
