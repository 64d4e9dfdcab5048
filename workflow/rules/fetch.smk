# Fetching public inputs, only with `download: true` (off by default: the workflow runs offline).
# T5 checkpoints from the Hugging Face Hub, raw Amazon 2014 5-core reviews; see peapod.fetch.
# The jobs read the downloads section of the config themselves (not as params), so a changed
# endpoint never re-fetches, and they run on the submitting host (compute nodes often lack internet).


localrules:
    fetch_backbone,
    fetch_amazon_reviews,


rule fetch_backbone:
    output:
        model=directory("resources/models/{backbone}"),
    log:
        "results/logs/fetch_backbone_{backbone}.log",
    wildcard_constraints:
        backbone="|".join(HUB_REPOS),
    conda:
        "../../envs/generator.yaml"
    script:
        "../scripts/fetch_backbone.py"


rule fetch_amazon_reviews:
    output:
        reviews="resources/amazon/reviews_{category}_5.json.gz",
        checksum="resources/amazon/reviews_{category}_5.json.gz.sha256",
    log:
        "results/logs/fetch_amazon_reviews_{category}.log",
    wildcard_constraints:
        category="[A-Za-z_]+",
    conda:
        "../../envs/data.yaml"
    script:
        "../scripts/fetch_amazon_reviews.py"
