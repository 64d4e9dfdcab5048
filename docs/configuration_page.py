"""Write docs/configuration.md from the config schema, workflow/schemas/config.schema.yaml.

The schema is the one home of every config key, its type, default and description; this script
turns it into the reference page, one table per top-level key, every nested key included (through
`$ref`s and named entries such as `datasets.<dataset>`). tests/test_docs.py checks that the
committed page equals what this script writes now, so a schema change without a regenerated page
fails. Run from anywhere:

    python docs/configuration_page.py          # rewrite docs/configuration.md
    python docs/configuration_page.py --check  # exit 1 when the committed page is out of date
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Iterator

import yaml

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / "workflow" / "schemas" / "config.schema.yaml"
PAGE = ROOT / "docs" / "configuration.md"

# How a key whose entries are named by the user is shown in a path (datasets.<dataset>.source).
ENTRY_NAMES = {
    "datasets": "<dataset>",
    "variants": "<variant>",
    "datasets.<dataset>.variants": "<variant>",
    "aggregate.labels": "<variant>",
}

PREFACE = """\
# Configuration

Every key of the workflow's config: its type, default and meaning. This page is generated from the
config schema, `workflow/schemas/config.schema.yaml`, by `docs/configuration_page.py`; do not edit
it by hand (edit the schema's descriptions and rerun the script; `tests/test_docs.py` fails when the
page is out of date).

## How the config works

- `config/config.yaml` is the embedded demo and the default (`--config KEY=VALUE` alone changes
  it). `snakemake --configfile FILE` replaces it rather than adding to it; several files after one
  `--configfile` are merged in order, key by key, the later file winning, which is how an overlay
  such as `config/demo_ablations.yaml` adds to the demo; except `datasets:`, which a later file
  replaces whole, so your own config given after the demo's (to borrow its settings) runs your
  datasets alone (`peapod.config.merge_configs`). A config of `datasets:` alone runs PeaPOD and POD
  at seeds 0, 1, 2 and no RecBole baseline (the defaults of `variants`, `seeds` and
  `baselines.models`; [own-data.md](own-data.md#a-complete-config)), and every run starts by
  printing what the default target plans and a time estimate from recorded job times
  (`peapod.study`). The shipped configs:
  `config/paper.yaml` (the paper's study, [paper-study.md](paper-study.md)),
  `config/demo_ablations.yaml` (every ablation figure on the demo data), `config/beauty_cpu.yaml`
  (the CPU recipe for real data) and `config/beauty_gpu.yaml` (its GPU twin), both on real Beauty
  ([results/beauty-cpu.md](results/beauty-cpu.md)), `config/beauty_baselines.yaml` (the RecBole
  baselines on real Beauty); `config/templates.yaml`
  holds the prompt templates of the three tasks.
- The config is validated against the schema at start-up: a typo or a wrong type stops the run with
  a message naming the key. Every default lives in the schema (`peapod.config` fills them in).
- A generator setting resolves in this order, the last one winning: `generator`, the dataset's
  `datasets.<dataset>.generator`, the variant's `variants.<variant>`, and the variant's on that
  dataset, `datasets.<dataset>.variants.<variant>`. A dataset's embedding settings under
  `datasets.<dataset>.embeddings` are merged key by key over `embeddings`.
- Every variant under `variants:` runs. Without `aggregate.table_variants` the main tables show the
  baseline and default variants (`aggregate.baseline_variant`, `aggregate.default_variant`) and
  every variant that is in no ablation, on every dataset. With an explicit
  `aggregate.table_variants`, a variant that is neither listed there nor in an ablation stops the
  run with an error naming it, instead of being silently never trained
  (`peapod.aggregate.settings.make_plan`).
- Runtime settings (cores, GPUs, partitions, threads) are not config: they live in the profiles
  (`profiles/default`, `profiles/slurm`; see [cluster.md](cluster.md)).

In the tables, `<dataset>` and `<variant>` stand for names you choose; a key without a default is
absent unless you set it.
"""


def load_schema(path: Path = SCHEMA) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


def resolve(node: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """``node`` with its ``$ref`` followed; the node's own keys (a description) win."""
    while "$ref" in node:
        ref = node["$ref"]
        if not ref.startswith("#/"):
            raise ValueError(f"only local $refs are supported, not {ref!r}")
        target: Any = schema
        for part in ref[2:].split("/"):
            target = target[part]
        node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    return node


def keys(node: dict[str, Any], schema: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """(dotted path, resolved node) of every key under ``node``, depth first, in schema order."""
    node = resolve(node, schema)
    for name, child in (node.get("properties") or {}).items():
        path = f"{prefix}.{name}" if prefix else name
        child = resolve(child, schema)
        yield path, child
        yield from keys(child, schema, path)
    entry = node.get("additionalProperties")
    if isinstance(entry, dict) and prefix:
        path = f"{prefix}.{ENTRY_NAMES.get(prefix, '<name>')}"
        child = resolve(entry, schema)
        yield path, child
        yield from keys(child, schema, path)


def type_of(node: dict[str, Any]) -> str:
    if "enum" in node:
        return "one of " + ", ".join(f"`{v}`" for v in node["enum"])
    kind = node.get("type")
    if kind is None:
        return "object" if "properties" in node or "propertyNames" in node else ""
    kinds = kind if isinstance(kind, list) else [kind]
    text = " or ".join("null" if k == "null" else k for k in kinds)
    if "array" in kinds and isinstance(node.get("items"), dict):
        text = text.replace("array", "list of " + (type_of(node["items"]) or "values"))
    return text


def default_of(node: dict[str, Any]) -> str:
    if "default" not in node:
        return ""
    return f"`{json.dumps(node['default'])}`"


def escape(text: str) -> str:
    """One table cell: one line, `|` escaped, `<`/`>` outside code spans written as entities."""
    parts = " ".join(str(text).split()).replace("|", "\\|").split("`")
    return "`".join(p if i % 2 else p.replace("<", "&lt;").replace(">", "&gt;") for i, p in enumerate(parts))


def description_of(node: dict[str, Any]) -> str:
    text = node.get("description", "")
    names = (node.get("propertyNames") or {}).get("enum")
    if names:  # generator overrides: the keys it accepts
        text += " Accepted keys: " + ", ".join(f"`{n}`" for n in names) + " (see [generator](#generator))."
    return escape(text)


def render(schema: dict[str, Any] | None = None) -> str:
    schema = schema if schema is not None else load_schema()
    lines = [PREFACE]
    required = set(schema.get("required") or [])
    for name, node in schema["properties"].items():
        node = resolve(node, schema)
        lines += ["", f"## {name}", ""]
        if name in required:
            lines += ["Required.", ""]
        lines += [
            "| key | type | default | description |",
            "|---|---|---|---|",
            f"| `{name}` | {type_of(node)} | {default_of(node)} | {description_of(node)} |",
        ]
        for path, child in keys(node, schema, name):
            lines.append(f"| `{path}` | {type_of(child)} | {default_of(child)} | {description_of(child)} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        if PAGE.read_text() != text:
            print(f"{PAGE} is out of date: run python docs/configuration_page.py", file=sys.stderr)
            return 1
        return 0
    PAGE.write_text(text)
    print(f"wrote {PAGE}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
