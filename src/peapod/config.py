"""Config validation with messages that name the offending key, and the schema's defaults.

The schema (workflow/schemas/config.schema.yaml) is the one home of every default: the workflow
fills them with Snakemake's ``validate``, code outside the workflow (tests, notebooks) with
:func:`with_defaults`, so no module restates a default.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import copy

import jsonschema
import yaml

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "config.schema.yaml"


class ConfigError(ValueError):
    pass


def _key_path(path) -> str:
    return ".".join(str(p) for p in path) or "(top level)"


def load_schema(schema_path: str | Path = SCHEMA_PATH) -> dict[str, Any]:
    """The config schema, with what it derives from itself: the keys a variant (or a dataset) may
    override are the keys of ``generator``, so ``$defs.generator_overrides`` gets them here rather
    than from a list kept by hand."""
    schema = yaml.safe_load(Path(schema_path).read_text(encoding="utf-8"))
    overrides = schema.get("$defs", {}).get("generator_overrides")
    generator = schema.get("properties", {}).get("generator", {}).get("properties")
    if overrides is not None and generator:
        overrides["propertyNames"] = {"enum": list(generator)}
    return schema


def generator_schema(schema_path: str | Path = SCHEMA_PATH) -> dict[str, Any]:
    """The schema of the ``generator`` section alone, its ``$defs`` kept so references resolve:
    the one home of the generator's defaults and bounds (peapod.generator.config reads both)."""
    schema = load_schema(schema_path)
    return {"$defs": schema.get("$defs", {}), **schema["properties"]["generator"]}


def _located_problems(instance: Any, schema: dict[str, Any]) -> list[tuple[tuple, str]]:
    """(key path, ``key: problem``) of every violation of ``schema`` (see schema_problems)."""
    validator = jsonschema.validators.validator_for(schema)(schema)
    problems = []
    for error in sorted(validator.iter_errors(instance), key=lambda e: list(map(str, e.absolute_path))):
        where = tuple(error.absolute_path)
        key = _key_path(where)
        if error.validator == "additionalProperties":
            allowed = sorted(error.schema.get("properties", {}))
            extra = sorted(set(error.instance) - set(allowed)) if isinstance(error.instance, dict) else []
            detail = f"unknown key(s) {', '.join(map(repr, extra))}"
            if allowed:
                detail += f"; allowed here: {', '.join(allowed)}"
            where += tuple(extra[:1])  # the unknown key is what a file set
            problems.append((where, f"{key}: {detail}"))
        elif isinstance(error.schema, dict) and "x-message" in error.schema:  # the schema's own words
            problems.append((where, f"{key}: {error.instance!r}: {error.schema['x-message']}"))
        else:
            problems.append((where, f"{key}: {error.message}"))
    return problems


def schema_problems(instance: Any, schema: dict[str, Any]) -> list[str]:
    """Every violation of ``schema`` by ``instance`` as ``key: problem``: unknown keys with the
    ones allowed there, a schema's own ``x-message`` where it has one, else jsonschema's message."""
    return [text for _, text in _located_problems(instance, schema)]


def _depth(config: Any, where: tuple) -> int:
    """How many steps of the key path ``where`` a config holds."""
    depth = 0
    for step in where:
        if not isinstance(config, dict) or step not in config:
            break
        config, depth = config[step], depth + 1
    return depth


def source_of(where: tuple, sources: list[tuple[str, dict[str, Any]]]) -> str | None:
    """Which of ``sources`` ((name, config) in merge order) set the key at ``where``: the one that
    holds the most of its path, the later on a tie (the later file wins); None when none holds it."""
    best, name = 0, None
    for source, config in sources:
        depth = _depth(config, where)
        if depth and depth >= best:
            best, name = depth, source
    return name


def validate_config(config: dict[str, Any], schema_path: str | Path,
                    sources: list[tuple[str, dict[str, Any]]] | None = None) -> None:
    """Raise ConfigError listing every violation as ``key: problem``; the config is not changed.
    ``sources``: the config files (and --config) merged into ``config``, in order, as (name,
    content): each problem then says which one set its key."""
    problems = []
    for where, text in _located_problems(config, load_schema(schema_path)):
        source = source_of(where, sources or [])
        problems.append(f"{text} (set in {source})" if source else text)
    if problems:
        raise ConfigError("invalid config:\n  " + "\n  ".join(problems))


def merge_configs(*configs: dict[str, Any]) -> dict[str, Any]:
    """Config files merged in order, as the workflow merges several ``--configfile`` files: key by
    key at every depth, the later file winning (Snakemake's rule), except ``datasets:``, which a
    later file replaces whole. So a config of one's own given after the demo's (to borrow its
    settings) runs its own datasets, not the demo dataset as well; an overlay without
    ``datasets:`` (config/demo_ablations.yaml) keeps the datasets before it."""
    merged: dict[str, Any] = {}
    for config in configs:
        _merge_into(merged, {k: v for k, v in config.items() if k != "datasets"})
        if "datasets" in config:
            merged["datasets"] = copy.deepcopy(config["datasets"])
    return merged


def _merge_into(base: dict[str, Any], update: dict[str, Any]) -> None:
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge_into(base[key], value)
        else:
            base[key] = copy.deepcopy(value)


def _default_filling(validator_class):
    """The validator class that also sets each absent property's default wherever the schema
    reaches (nested objects, $ref, additionalProperties), as Snakemake's ``validate`` does."""
    check_properties = validator_class.VALIDATORS["properties"]

    def properties(validator, props, instance, schema):
        if isinstance(instance, dict):
            for key, sub in props.items():
                if "default" in sub:
                    instance.setdefault(key, copy.deepcopy(sub["default"]))
        yield from check_properties(validator, props, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": properties})


# The name of a P5 dataset's id-order twin: ``<name>_random``.
TWIN_SUFFIX = "_random"


def twins_of(datasets: dict[str, Any]) -> dict[str, str]:
    """{dataset: its id-order twin} of every dataset that has one (a twin names it in ``twin_of``)."""
    return {spec["twin_of"]: name for name, spec in datasets.items() if (spec or {}).get("twin_of")}


def with_twins(config: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``config`` in which, with ``id_order_twins: true``, every P5 dataset numbered the
    P5 way gets its twin ``<name>_random``: the same entry (source, path, its own generator and
    variant settings) with ``item_numbering: random`` and ``twin_of: <name>``. A twin is an id-order
    control: the plan runs the main tables' variants on it and the tables show it beside its
    dataset (peapod.aggregate.settings.make_plan). Declared twins (``twin_of``) are checked either way;
    calling this twice adds nothing the second time."""
    out = copy.deepcopy(config)
    datasets = out.get("datasets") or {}
    if out.get("id_order_twins"):
        have = set(twins_of(datasets))
        for name, spec in list(datasets.items()):
            p5_numbered = spec.get("source") == "p5" and spec.get("item_numbering", "p5") == "p5"
            if not p5_numbered or name in have or spec.get("twin_of"):
                continue
            twin = name + TWIN_SUFFIX
            if twin in datasets:  # a dataset of that name that is not this one's twin
                raise ConfigError(f"invalid config:\n  datasets.{twin}: id_order_twins adds {name}'s twin under this "
                                  f"name, which is taken: rename the dataset, or declare it as the twin "
                                  f"(twin_of: {name}, item_numbering: random)")
            datasets[twin] = {**copy.deepcopy(spec), "item_numbering": "random", "twin_of": name}
    problems = []
    for name, spec in datasets.items():
        original = (spec or {}).get("twin_of")
        if original is None:
            continue
        if original not in datasets or original == name or datasets[original].get("twin_of"):
            problems.append(f"datasets.{name}.twin_of: {original!r} is not a dataset of this config (or is a twin)")
        elif spec.get("item_numbering") != "random":
            problems.append(f"datasets.{name}: a twin renumbers its items (item_numbering: random)")
    if len(twins_of(datasets)) < sum(1 for spec in datasets.values() if (spec or {}).get("twin_of")):
        problems.append("datasets: two datasets are twins of the same dataset")
    if problems:
        raise ConfigError("invalid config:\n  " + "\n  ".join(problems))
    return out


def with_defaults(config: dict[str, Any], schema_path: str | Path = SCHEMA_PATH) -> dict[str, Any]:
    """A validated copy of ``config`` with its id-order twins (:func:`with_twins`) and the
    schema's defaults filled in."""
    validate_config(config, schema_path)
    schema = load_schema(schema_path)
    filled = with_twins(config)
    _default_filling(jsonschema.validators.validator_for(schema))(schema).validate(filled)
    return filled
