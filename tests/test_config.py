"""Config validation names the offending key; both shipped configs are valid."""

from __future__ import annotations

import copy

import pytest
import yaml

from peapod.config import ConfigError, validate_config
from tests.helpers import REPO

SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"


def load(name):
    return yaml.safe_load((REPO / "config" / name).read_text())


@pytest.mark.parametrize("name", ["config.yaml", "paper.yaml"])
def test_shipped_configs_are_valid(name):
    validate_config(load(name), SCHEMA)


def test_paper_config_has_three_datasets_and_ten_seeds():
    cfg = load("paper.yaml")
    assert set(cfg["datasets"]) == {"sports", "beauty", "toys"}
    assert len(cfg["seeds"]) == 10


def test_typo_names_the_key():
    cfg = load("config.yaml")
    cfg["datasets"]["demo"]["demo"]["n_user"] = 10
    with pytest.raises(ConfigError, match=r"datasets\.demo\.demo: unknown key\(s\) 'n_user'"):
        validate_config(cfg, SCHEMA)


def test_top_level_typo():
    cfg = load("config.yaml")
    cfg["seed"] = [1]
    with pytest.raises(ConfigError, match=r"\(top level\): unknown key\(s\) 'seed'"):
        validate_config(cfg, SCHEMA)


def test_wrong_type_names_the_key():
    cfg = load("config.yaml")
    cfg["preprocess"]["n_negatives"] = "ninety-nine"
    with pytest.raises(ConfigError, match=r"preprocess\.n_negatives: 'ninety-nine' is not of type 'integer'"):
        validate_config(cfg, SCHEMA)


def test_p5_source_needs_a_path():
    cfg = {"datasets": {"beauty": {"source": "p5"}}}
    with pytest.raises(ConfigError, match=r"datasets\.beauty: 'path' is a required property"):
        validate_config(cfg, SCHEMA)


def test_unknown_source():
    cfg = {"datasets": {"beauty": {"source": "csv", "path": "x"}}}
    with pytest.raises(ConfigError, match=r"datasets\.beauty\.source: 'csv' is not one of"):
        validate_config(cfg, SCHEMA)


def test_interactions_source_validates_and_bad_combinations_are_refused():
    mine = {"source": "interactions", "path": "data/mine.tsv.gz", "columns": {"user": "customer"},
            "k_core": 3, "duplicates": "drop", "item_numbering": "random", "explanations_from_text": False}
    validate_config({"datasets": {"mine": mine}}, SCHEMA)
    validate_config({"datasets": {"books": {"source": "amazon_reviews", "path": "Books.jsonl.gz", "k_core": 10,
                                            "explanations_from_text": True}}}, SCHEMA)
    refused = [
        ({"source": "interactions", "path": "mine.xlsx"},
         r"datasets\.mine\.path: 'mine\.xlsx': an interactions file is read as \.csv, \.tsv \(either optionally \.gz\) or \.parquet$"),
        ({"source": "interactions"}, r"datasets\.mine: 'path' is a required property"),
        ({"source": "interactions", "path": "m.csv", "sha256": "0" * 64}, r"datasets\.mine: .* should not be valid"),
        ({"source": "interactions", "path": "m.csv", "columns": {"usr": "u"}}, r"datasets\.mine\.columns: unknown key"),
        ({"source": "p5", "path": "d", "k_core": 3}, r"datasets\.mine: .* should not be valid"),
        ({"source": "amazon_reviews", "path": "B.jsonl", "duplicates": "drop"}, r"datasets\.mine: .* should not be"),
        ({"source": "amazon_reviews", "path": "B.jsonl", "explanations": "e.pkl", "explanations_from_text": True},
            r"datasets\.mine: .* should not be valid"),
        ({"source": "demo", "columns": {"user": "u"}}, r"datasets\.mine: .* should not be valid"),
    ]
    for spec, message in refused:
        with pytest.raises(ConfigError, match=message):
            validate_config({"datasets": {"mine": spec}}, SCHEMA)


def test_every_schema_property_is_described():
    schema = yaml.safe_load(SCHEMA.read_text())

    def walk(node, where):
        for key, sub in node.get("properties", {}).items():
            assert "description" in sub or "$ref" in sub, f"{where}.{key} lacks a description"
            walk(sub, f"{where}.{key}")
        for key, sub in node.get("$defs", {}).items():
            walk(sub, f"$defs.{key}")

    walk(copy.deepcopy(schema), "config")


def test_a_generator_key_can_be_set_for_one_variant_on_one_dataset():
    """POD used 1e-3 on Sports and 5e-4 elsewhere; PeaPOD 5e-4 everywhere; nobody clips."""
    from peapod.generator.config import all_run_settings

    settings = all_run_settings(load("paper.yaml"))
    assert settings["sports", "pod"].learning_rate == 0.001
    assert settings["beauty", "pod"].learning_rate == settings["toys", "pod"].learning_rate == 0.0005
    assert settings["sports", "peapod"].learning_rate == 0.0005
    assert all(s.clip_norm == 0 for s in settings.values())
    # Order: defaults < dataset < variant < the variant on that dataset.
    cfg = {"datasets": {"a": {"generator": {"heads": 2, "neighbors": 7},
                              "variants": {"v": {"heads": 16}}}, "b": {}},
           "generator": {"heads": 4}, "variants": {"v": {"heads": 8, "neighbors": 5}, "w": {}}}
    settings = all_run_settings(cfg)
    assert (settings["a", "v"].heads, settings["a", "v"].neighbors) == (16, 5)
    assert (settings["a", "w"].heads, settings["b", "v"].heads, settings["b", "w"].heads) == (2, 8, 4)
    cfg["datasets"]["b"]["variants"] = {"typo": {"heads": 1}}
    with pytest.raises(ValueError, match=r"datasets.b.variants: \['typo'\] not defined"):
        all_run_settings(cfg)


def test_neighbour_index_keeps_the_most_any_run_reads():
    """neighbors.k 20 with a neighbors_30 variant: the PMF indexes must keep 30 (else 30 training
    jobs per dataset fail); an index no 30-run reads keeps k."""
    from peapod.generator.config import all_run_settings, neighbors_to_store

    cfg = load("paper.yaml")
    settings = all_run_settings(cfg)
    k = cfg["neighbors"]["k"]
    for dataset in cfg["datasets"]:
        assert neighbors_to_store(settings, dataset, "pmf", k) == 30
        assert neighbors_to_store(settings, dataset, "bivae", k) == 20
    assert neighbors_to_store(settings, "toys", "bivae", 5) == 10  # Toys' own 10, above k = 5


def test_schema_lists_exactly_the_registered_embedding_sources():
    """The CF registry is the one home of the models: the schema's enum, sections and per-dataset
    overrides must name exactly its sources, and each model's section exactly its settings (with the
    dataclass's defaults), so adding a model without its schema entry fails here."""
    from dataclasses import MISSING, fields

    from peapod.embeddings.registry import FILE_KEYS, FILE_SOURCE, MODELS, SOURCES

    schema = yaml.safe_load(SCHEMA.read_text())
    section = schema["properties"]["embeddings"]["properties"]
    assert section["models"]["items"]["enum"] == list(SOURCES)
    assert set(section) - {"models", "dim", "seed"} == set(SOURCES)
    overrides = schema["$defs"]["embedding_overrides"]["properties"]
    assert set(overrides) - {"dim", "seed"} == set(SOURCES)
    assert set(section[FILE_SOURCE]["properties"]) == set(FILE_KEYS)
    for name, model in MODELS.items():
        properties = section[name]["properties"]
        assert set(properties) == model.option_keys(), name
        for f in fields(model.settings_type()):
            default = f.default if f.default is not MISSING else f.default_factory()
            schema_default = section[f.name]["default"] if f.name in ("dim", "seed") else properties[f.name]["default"]
            assert default == schema_default, f"{name}.{f.name}: dataclass {default!r} != schema {schema_default!r}"


def test_defaults_filled_from_the_schema_equal_snakemakes():
    from snakemake.utils import validate

    from peapod.config import with_defaults, with_twins

    for name in ("config.yaml", "paper.yaml"):
        ours, theirs = with_defaults(load(name)), with_twins(load(name))  # the Snakefile adds the twins first
        validate(theirs, str(SCHEMA))
        assert ours == theirs, name


# Configs whose top-n training prompts are shorter than their evaluation prompts, and why (issue 21,
# item 5: train with evaluation's 99 negatives unless a config says why not; training warns).
SHORT_TRAINING_PROMPTS = {
    "config.yaml": "the demo: 19 training negatives keep it within minutes on a CPU",
}
# Overlays given after a base config (base first).
OVERLAYS = {"demo_ablations.yaml": "config.yaml",
            "own_data_quick.yaml": "paper.yaml"}  # the quick preset goes after one's own config; the paper's stands in


@pytest.mark.parametrize("name", sorted(p.name for p in (REPO / "config").glob("*.yaml") if p.name != "templates.yaml"))
def test_every_shipped_config_trains_top_n_on_prompts_like_its_evaluation(name):
    """Every run of every shipped config trains top-n with the evaluation's negatives (the data
    stage's n_negatives), unless the config is listed above with its reason."""
    from peapod.config import with_defaults
    from peapod.generator.config import all_run_settings

    cfg = load(OVERLAYS[name]) if name in OVERLAYS else {}
    for key, value in load(name).items():
        cfg[key] = {**cfg[key], **value} if key == "variants" and key in cfg else value
    cfg = with_defaults(cfg, SCHEMA)
    evaluated = cfg["preprocess"]["n_negatives"]
    base = OVERLAYS.get(name, name)
    short = {run: s.negatives for run, s in all_run_settings(cfg).items()
             if "topn" in s.tasks and s.negatives < evaluated}
    if base in SHORT_TRAINING_PROMPTS:
        assert short, f"{base} is listed as training on shorter prompts, but does not: remove it from the list"
    else:
        assert not short, f"{name}: runs train top-n with fewer negatives than evaluation's {evaluated}: {short}"


def test_config_files_merge_key_by_key_but_datasets_are_replaced_whole():
    """peapod.config.merge_configs (the Snakefile's rule for several --configfile files): Snakemake's
    merge everywhere but datasets:, so one's own config after the demo's drops the demo dataset."""
    from snakemake.utils import update_config

    from peapod.config import merge_configs

    demo, own = load("config.yaml"), {"datasets": {"mine": {"source": "interactions", "path": "mine.csv"}},
                                      "generator": {"epochs": 3}, "variants": {"pod": {"heads": 2}}}
    merged = merge_configs(demo, own)
    assert merged["datasets"] == own["datasets"]
    snakemakes = copy.deepcopy(demo)
    update_config(snakemakes, own)
    assert {**snakemakes, "datasets": own["datasets"]} == merged
    assert merged["variants"]["pod"] == {"user_prompt": "none", "heads": 2} and merged["generator"]["epochs"] == 3
    overlay = load("demo_ablations.yaml")  # no datasets: the demo's stay
    assert merge_configs(demo, overlay)["datasets"] == demo["datasets"]
    assert demo == load("config.yaml")  # the inputs are not changed


def test_a_problem_names_the_config_file_that_set_its_key():
    """Several --configfile files (and --config) merge into one config: each problem says which
    of them set the key, the later on a tie, as the Snakefile passes them."""
    from peapod.config import merge_configs

    demo = load("config.yaml")
    mine = {"generator": {"epochs": 0}, "seed": [1]}
    command_line = {"preprocess": {"n_negatives": "ninety-nine"}}
    merged = merge_configs(demo, mine, command_line)
    sources = [("config/config.yaml", demo), ("my.yaml", mine), ("--config", command_line)]
    with pytest.raises(ConfigError) as error:
        validate_config(merged, SCHEMA, sources)
    lines = str(error.value).splitlines()[1:]
    assert [line.rsplit(" (set in ", 1)[-1] for line in lines] == ["my.yaml)", "my.yaml)", "--config)"], lines
    assert lines[0].startswith("  (top level): unknown key(s) 'seed'")
    assert lines[1].startswith("  generator.epochs: 0 ")
    # a key only the first file sets is the first file's; with no sources, no file is named
    demo["seeds"] = "three"
    with pytest.raises(ConfigError, match=r"seeds: 'three' is not of type 'array' \(set in config/config.yaml\)"):
        validate_config(demo, SCHEMA, [("config/config.yaml", demo), ("my.yaml", mine)])
    with pytest.raises(ConfigError) as bare:
        validate_config(demo, SCHEMA)
    assert "set in" not in str(bare.value)
