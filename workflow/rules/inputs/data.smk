# Input functions and settings of the data stage's rules (data.smk includes this file; Snakemake's
# linter wants functions apart from rules). The workflow's shared helpers are in common.smk.

def data_spec(wildcards):
    """The dataset's entry as the data stage's params: without its embedding and baseline settings,
    so setting datasets.<name>.embeddings re-runs the embeddings, not the preprocessing (nor does
    naming the dataset a twin: twin_of)."""
    return {k: v for k, v in dataset_spec(wildcards).items() if k not in ("embeddings", "baselines", "twin_of")}


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
