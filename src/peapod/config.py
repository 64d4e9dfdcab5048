"""Config validation with messages that name the offending key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import yaml


class ConfigError(ValueError):
    pass


def _key_path(path) -> str:
    return ".".join(str(p) for p in path) or "(top level)"


def validate_config(config: dict[str, Any], schema_path: str | Path) -> None:
    """Raise ConfigError listing every violation as ``key: problem``; the config is not changed."""
    schema = yaml.safe_load(Path(schema_path).read_text(encoding="utf-8"))
    validator_class = jsonschema.validators.validator_for(schema)
    validator = validator_class(schema)
    problems = []
    for error in sorted(validator.iter_errors(config), key=lambda e: list(map(str, e.absolute_path))):
        key = _key_path(error.absolute_path)
        if error.validator == "additionalProperties":
            allowed = sorted(error.schema.get("properties", {}))
            extra = sorted(set(error.instance) - set(allowed)) if isinstance(error.instance, dict) else []
            detail = f"unknown key(s) {', '.join(map(repr, extra))}"
            if allowed:
                detail += f"; allowed here: {', '.join(allowed)}"
            problems.append(f"{key}: {detail}")
        else:
            problems.append(f"{key}: {error.message}")
    if problems:
        raise ConfigError("invalid config:\n  " + "\n  ".join(problems))
