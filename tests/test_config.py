"""Config validation names the offending key; both shipped configs are valid."""

from __future__ import annotations

import copy

import pytest
import yaml

from peapod.config import ConfigError, validate_config
from tests.conftest import REPO

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


def test_every_schema_property_is_described():
    schema = yaml.safe_load(SCHEMA.read_text())

    def walk(node, where):
        for key, sub in node.get("properties", {}).items():
            assert "description" in sub or "$ref" in sub, f"{where}.{key} lacks a description"
            walk(sub, f"{where}.{key}")
        for key, sub in node.get("$defs", {}).items():
            walk(sub, f"$defs.{key}")

    walk(copy.deepcopy(schema), "config")
