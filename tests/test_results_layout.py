"""The layout of results/ (peapod.paths, peapod.generator.runs): each study's aggregate outputs in a
folder of its own, one run folder per run's settings, and the names a dataset cannot take."""

from __future__ import annotations

import copy

import pytest
import yaml

from peapod import paths
from peapod.config import SCHEMA_PATH, ConfigError, load_schema, validate_config, with_defaults
from peapod.generator.runs import run_folders, run_key, run_keys
from tests.helpers import REPO


@pytest.fixture(scope="module")
def demo():
    return with_defaults(yaml.safe_load((REPO / "config" / "config.yaml").read_text()))


def test_a_study_is_named_after_its_config_files(tmp_path):
    demo_config = tmp_path / "config" / "config.yaml"
    assert paths.default_study([], demo_config) == "demo"
    assert paths.default_study([demo_config], demo_config) == "demo"
    assert paths.default_study([tmp_path / "my.yaml"], demo_config) == "my"
    assert paths.default_study([demo_config, tmp_path / "config" / "demo_ablations.yaml"],
                               demo_config) == "demo+demo_ablations"
    assert paths.table_file("my", "topn.md") == "results/studies/my/tables/topn.md"
    assert paths.ablation_file("my", "summary.csv") == "results/studies/my/ablations/{ablation}/summary.csv"


def test_reserved_folder_names_cannot_name_a_dataset():
    schema = load_schema()
    [_, reserved] = schema["properties"]["datasets"]["propertyNames"]["allOf"]
    assert tuple(reserved["not"]["enum"]) == paths.RESERVED_NAMES  # the schema lists peapod.paths' names
    for name in ("studies", "tables"):
        with pytest.raises(ConfigError, match=rf"datasets: '{name}': is a folder of results/ that is not a dataset's"):
            validate_config({"datasets": {name: {"source": "demo"}}}, SCHEMA_PATH)
    with pytest.raises(ConfigError, match="study: 'my study': a study's name"):
        validate_config({"datasets": {"mine": {"source": "demo"}}, "study": "my study"}, SCHEMA_PATH)


def test_run_key_follows_what_training_reads(demo):
    keys = run_keys(demo)
    assert len(set(keys.values())) == len(keys)  # peapod, mlp, pod: each its own folder
    changed = copy.deepcopy(demo)
    changed["generator"]["epochs"] = 8
    assert all(run_keys(changed)[k] != keys[k] for k in keys)
    # What does not change the training leaves the key: evaluation, devices, the study's name,
    # ablations, and for POD (no user prompt) the CF models' settings.
    same = copy.deepcopy(demo)
    same["evaluation"]["beams"] = 5
    same["devices"]["threads_per_job"] = 4
    same["study"] = "other"
    same["ablations"] = {}
    same["embeddings"]["pmf"]["max_iter"] = 3
    assert run_key(same, "demo", "pod") == keys["demo", "pod"]
    assert run_key(same, "demo", "peapod") != keys["demo", "peapod"]  # it reads PMF's user vectors
    same["embeddings"]["pmf"]["max_iter"] = demo["embeddings"]["pmf"]["max_iter"]
    assert run_keys(same) == keys
    # The data: the dataset's entry and the data stage's settings.
    data = copy.deepcopy(demo)
    data["datasets"]["demo"]["demo"]["n_users"] = 300
    assert run_key(data, "demo", "pod") != keys["demo", "pod"]
    data = copy.deepcopy(demo)
    data["preprocess"]["negative_seed"] = 7
    assert run_key(data, "demo", "pod") != keys["demo", "pod"]
    # A value left to its default and the same value written out: one key.
    written = copy.deepcopy(yaml.safe_load((REPO / "config" / "config.yaml").read_text()))
    written["generator"]["weight_decay"] = demo["generator"]["weight_decay"]
    assert run_keys(written) == keys


def test_old_layout_folders_are_found(tmp_path):
    results = tmp_path / "results"
    for folder in ("tables", "demo/runs/pod/seed0", "demo/runs/pod/0123456789/seed0", "studies/demo/tables",
                   "demo/data"):
        (results / folder).mkdir(parents=True)
    assert paths.old_layout_folders(results) == [str(results / "tables"), str(results / "demo/runs/pod/seed0")]
    assert paths.old_layout_folders(tmp_path / "absent") == []


def test_run_folders_name_the_workflows_folders(demo):
    """`python -m peapod.generator.runs CONFIG` prints the folders the workflow trains into."""
    keys = run_keys(demo)
    assert run_folders([REPO / "config" / "config.yaml"]) == [
        f"demo {v} results/demo/runs/{v}/{keys['demo', v]}/" for v in demo["variants"]]
