"""Checks made when the workflow loads, before Snakemake removes any output of a job it will rerun.

A job that is bound to fail still costs its outputs: Snakemake deletes them before the job starts.
So what can be known without running a job is checked here, in the main process (the Snakefile
calls :func:`problems`), and the workflow stops with the messages before any job starts:

- a published backbone (t5-small/t5-base) that is neither in resources/models/<name>, nor in
  generator.model_dir, nor in the Hugging Face cache (unless download: true fetches it);
- an interactions file (``source: interactions``) whose rows the data stage would refuse, checked
  when it is newer than the tables built from it (a rerun of the data stage is then due);
- a recommendation request's users or pairs that are not in the dataset, once its tables exist;
- a recommendation label already used by a request that asked something else.

Each check reads only files that exist now; what it cannot check yet (a dataset not preprocessed)
the job checks, as before.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Mapping

from peapod import paths
from peapod.errors import InputError
from peapod.fetch import HUB_REPOS

RESOURCES = "resources"


def backbone_found_offline(backbone: str, model_dir: str | None, resources: str | Path = RESOURCES) -> bool:
    """Whether peapod.generator.backbone would find the checkpoint with no network: model_dir, else
    resources/models/<name>, else the Hugging Face cache (under its Hub id or its legacy name)."""
    if model_dir:
        return (Path(model_dir) / "config.json").is_file()
    if (Path(resources) / "models" / backbone / "config.json").is_file():
        return True
    from huggingface_hub import try_to_load_from_cache

    return any(isinstance(try_to_load_from_cache(repo, "config.json"), str) for repo in (HUB_REPOS[backbone], backbone))


def missing_backbones(settings: Mapping[tuple[str, str], Any], runs: Iterable[tuple[str, str, int]],
                      download: bool, resources: str | Path = RESOURCES) -> list[str]:
    """A message for each published backbone the planned runs need and nothing provides offline
    (``settings``: (dataset, variant) -> GeneratorConfig)."""
    needed: dict[tuple[str, str | None], list[str]] = {}
    for dataset, variant, _ in runs:
        run = settings[dataset, variant]
        if run.backbone in HUB_REPOS and not (download and not run.model_dir):  # download: true fetches it
            needed.setdefault((run.backbone, run.model_dir), [])
            where = f"{dataset}/{variant}"
            if where not in needed[run.backbone, run.model_dir]:
                needed[run.backbone, run.model_dir].append(where)
    messages = []
    for (backbone, model_dir), used_by in needed.items():
        if backbone_found_offline(backbone, model_dir, resources):
            continue
        looked = (f"generator.model_dir {model_dir}/" if model_dir else
                  f"{resources}/models/{backbone}/ and the Hugging Face cache ({HUB_REPOS[backbone]})")
        messages.append(
            f"backbone {backbone} (runs {', '.join(used_by)}) not found offline: looked in {looked}. Nothing is "
            f"downloaded at run time: save the checkpoint there (docs/paper-study.md, \"T5 checkpoints\"), set "
            "generator.model_dir to a save_pretrained directory, or set download: true")
    return messages


def interactions_problem(name: str, spec: Mapping[str, Any]) -> str | None:
    """Why the data stage would refuse dataset ``name``'s interactions file, checked only when the
    file is newer than the tables built from it (so the rerun that removes them is due); None when
    it reads, is absent (the job names it) or is not newer."""
    from peapod.data.interactions import checked_interactions, spec_of

    source = Path(spec["path"])
    built = Path(paths.DATASET_STATS.format(dataset=name))
    if not source.is_file() or not built.is_file() or source.stat().st_mtime <= built.stat().st_mtime:
        return None
    try:
        checked_interactions(source, spec_of(dict(spec)), spec.get("explanations_from_text"))
    except InputError as error:
        return f"dataset {name}: {error} (its tables in {built.parent}/ are kept until the file reads)"
    return None


def request_problems(dataset: str, users_file: str | None, pairs_file: str | None) -> list[str]:
    """Users and items of a request's files that the dataset lacks, once its tables exist."""
    users_table = Path(paths.data_table("users").format(dataset=dataset))
    items_table = Path(paths.data_table("items").format(dataset=dataset))
    files = [f for f in (users_file, pairs_file) if f and Path(f).is_file()]
    if not files or not (users_table.is_file() and items_table.is_file()):
        return []
    import pandas as pd

    from peapod.evaluation.request_files import IdMap, read_pairs, read_user_list

    users = IdMap(pd.read_parquet(users_table, columns=["user_id", "raw_id"]), "user_id", "user")
    messages = []
    for path, read in ((users_file, lambda p: read_user_list(p, users)),
                       (pairs_file, lambda p: read_pairs(p, users, IdMap(
                           pd.read_parquet(items_table, columns=["item_id", "raw_id"]), "item_id", "item")))):
        if path in files:
            try:
                read(path)
            except InputError as error:
                messages.append(f"recommend ({dataset}): {error}")
    return messages


def unknown_ablation_targets(targets: Iterable[str], configured: Iterable[str], configs: str | Path = "config"
                             ) -> list[str]:
    """A message for each ``ablation_<name>`` target whose ablation this config lacks (Snakemake
    would say MissingRuleException): the ablations it has, and the config files under ``configs``
    that define that one, as an overlay to add."""
    import yaml

    configured = list(configured)
    messages = []
    for target in targets:
        name = target.removeprefix("ablation_")
        if not target.startswith("ablation_") or name in configured:
            continue
        defining = []
        for path in sorted(Path(configs).glob("*.yaml")):
            ablations = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("ablations") or {}
            if isinstance(ablations, dict) and name in ablations:
                defining.append(str(path))
        where = (f"; defined in {', '.join(defining)} (e.g. the demo with that overlay: "
                 f"snakemake {target} --configfile config/config.yaml {defining[0]})" if defining else
                 f"; no config under {configs}/ defines it: add it under ablations:")
        messages.append(f"no target {target}: this config has no ablation {name!r} (its ablations: "
                        f"{', '.join(configured) or 'none'}){where}")
    return messages


def report(messages: list[str], dry_run: bool = False) -> str | None:
    """The message the workflow stops with (a dry run, which removes nothing, only warns), or None
    when every check passed."""
    if not messages:
        return None
    opening = ("WARNING (dry run): a real run would stop here, before any job" if dry_run else
               "Stopped before any job ran (nothing was removed)")
    lines = [f"{opening}: {len(messages)} problem(s) found when the workflow loaded:"]
    lines += [f"  - {message}" for message in messages]
    return "\n".join(lines)
