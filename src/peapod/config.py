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


def schema_problems(instance: Any, schema: dict[str, Any]) -> list[str]:
    """Every violation of ``schema`` by ``instance`` as ``key: problem``: unknown keys with the
    ones allowed there, a schema's own ``x-message`` where it has one, else jsonschema's message."""
    validator = jsonschema.validators.validator_for(schema)(schema)
    problems = []
    for error in sorted(validator.iter_errors(instance), key=lambda e: list(map(str, e.absolute_path))):
        key = _key_path(error.absolute_path)
        if error.validator == "additionalProperties":
            allowed = sorted(error.schema.get("properties", {}))
            extra = sorted(set(error.instance) - set(allowed)) if isinstance(error.instance, dict) else []
            detail = f"unknown key(s) {', '.join(map(repr, extra))}"
            if allowed:
                detail += f"; allowed here: {', '.join(allowed)}"
            problems.append(f"{key}: {detail}")
        elif isinstance(error.schema, dict) and "x-message" in error.schema:  # the schema's own words
            problems.append(f"{key}: {error.instance!r}: {error.schema['x-message']}")
        else:
            problems.append(f"{key}: {error.message}")
    return problems


def validate_config(config: dict[str, Any], schema_path: str | Path) -> None:
    """Raise ConfigError listing every violation as ``key: problem``; the config is not changed."""
    problems = schema_problems(config, load_schema(schema_path))
    if problems:
        raise ConfigError("invalid config:\n  " + "\n  ".join(problems))


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


def with_defaults(config: dict[str, Any], schema_path: str | Path = SCHEMA_PATH) -> dict[str, Any]:
    """A validated copy of ``config`` with the schema's defaults filled in."""
    validate_config(config, schema_path)
    schema = load_schema(schema_path)
    filled = copy.deepcopy(config)
    _default_filling(jsonschema.validators.validator_for(schema))(schema).validate(filled)
    return filled
