# Data stage: the demo generator and the P5-split preprocessing into Parquet tables.
# Outputs are named <table>_table because Snakemake reserves the name "items".

DATA_TABLES = ["users", "items", "sequences", "candidates", "explanations"]


rule make_demo_dataset:
    output:
        sequences="results/{dataset}/raw/sequential_data.txt",
        negatives="results/{dataset}/raw/negative_samples.txt",
        datamaps="results/{dataset}/raw/datamaps.json",
        explanations="results/{dataset}/raw/exp_splits.pkl",
        truth="results/{dataset}/raw/planted_structure.json",
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
        **{f"{name}_table": f"results/{{dataset}}/data/{name}.parquet" for name in DATA_TABLES},
        stats="results/{dataset}/data/stats.json",
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
        expand("results/{dataset}/data/stats.json", dataset=DATASETS),
    output:
        csv=report(
            "results/tables/dataset_statistics.csv",
            caption="../report/dataset_statistics.rst",
            category="Data",
        ),
        markdown="results/tables/dataset_statistics.md",
    log:
        "results/logs/tabulate_dataset_statistics.log",
    conda:
        "../../envs/data.yaml"
    script:
        "../scripts/tabulate_dataset_statistics.py"
