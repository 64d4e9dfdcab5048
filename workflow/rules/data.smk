# Data stage: the demo generator and the P5-split preprocessing into Parquet tables.
# Outputs are named <table>_table because Snakemake reserves the name "items"; where they live is
# peapod.paths (as for every output another stage reads).

include: "inputs/data.smk"  # this stage's input functions


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
            paths.table_file(STUDY, "dataset_statistics.csv"),
            caption="../report/dataset_statistics.rst",
            category="Data",
        ),
        markdown=paths.table_file(STUDY, "dataset_statistics.md"),
    log:
        paths.study_log(STUDY, "tabulate_dataset_statistics.log"),
    conda:
        "../../envs/data.yaml"
    script:
        "../scripts/tabulate_dataset_statistics.py"
