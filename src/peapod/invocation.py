"""What the running ``snakemake`` command asked for (its targets, a dry run), read when the workflow
loads, where Snakemake's own settings object does not hold them yet (the Snakefile is read before
the DAG settings are set).

The command line is read with Snakemake's own argument parser, so options and targets split as
Snakemake splits them. Started any other way (Snakemake's Python API), the command is unknown and
:func:`snakemake_command` says so (None): callers then fall back to what holds for every target.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Command:
    targets: tuple[str, ...]  # the targets named (rules or files); () is the default target
    dry_run: bool


def _from_snakemake_cli(argv: list[str]) -> bool:
    program = Path(argv[0]) if argv else Path()
    return program.name == "snakemake" or (program.name == "__main__.py" and program.parent.name == "snakemake")


def snakemake_command(argv: list[str] | None = None) -> Command | None:
    """The targets and dry-run flag of this ``snakemake`` command line (``argv``: sys.argv), or
    None when the workflow was not started from it."""
    argv = sys.argv if argv is None else argv
    if not _from_snakemake_cli(argv):
        return None
    from snakemake.cli import get_argument_parser

    try:
        args, _ = get_argument_parser().parse_known_args(argv[1:])
    except SystemExit:  # a line the parser refuses: Snakemake itself says why
        return None
    return Command(targets=tuple(args.targets or ()), dry_run=bool(args.dryrun))
