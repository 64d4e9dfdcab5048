# PeaPOD / POD reproduction workflow. Stages, in order:
#   data (P5 files -> Parquet tables)  ->  [embeddings -> neighbours -> generator -> evaluation -> report]
# Default config: the embedded demo. The paper: --configfile config/paper.yaml
import sys

from snakemake.common.configfile import load_configfile
from snakemake.utils import min_version, validate

from peapod import paths, preflight
from peapod.config import ConfigError, merge_configs, validate_config, with_twins
from peapod.invocation import snakemake_command
from peapod.logs import failure_summary
from peapod.study import LONG_RULES, closing_block, setting_warnings, study_summary, targets_plan

min_version("9.0")


# The demo is the default, used when no --configfile is given (--config then changes it). Several
# --configfile files merge in order, except datasets:, which a later file replaces whole, so one's
# own config given after the demo's does not run the demo dataset too (peapod.config.merge_configs).
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"

    CONFIG_SOURCES = [("config/config.yaml", load_configfile("config/config.yaml"))]
else:
    CONFIG_SOURCES = [(str(path), load_configfile(path)) for path in workflow.overwrite_configfiles]
    config.update(merge_configs(*(given for _, given in CONFIG_SOURCES), dict(workflow.config_settings.config)))
CONFIG_SOURCES.append(("--config", dict(workflow.config_settings.config)))

# The study's name (results/studies/<study>/): study: if set, else the config files' names.
config.setdefault("study", paths.default_study(workflow.overwrite_configfiles or [], "config/config.yaml"))

try:  # messages that name the key and the file (or --config) that set it
    validate_config(config, "workflow/schemas/config.schema.yaml", CONFIG_SOURCES)
    config.update(with_twins(config))  # id_order_twins: each P5 dataset's twin, <name>_random
except ConfigError as error:  # the message alone: a traceback into the validator helps nobody
    sys.exit(str(error))
validate(config, "workflow/schemas/config.schema.yaml")  # fills in the schema's defaults


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/fetch.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/embeddings.smk"
include: "workflow/rules/neighbors.smk"
include: "workflow/rules/generator.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/baselines.smk"
include: "workflow/rules/recommend.smk"
include: "workflow/rules/report.smk"


# What can be checked with no job (a backbone missing offline, an interactions file that will not read,
# a request's unknown users, a reused label) stops the run here, before Snakemake removes any output.
# COMMAND: the targets named and whether this is a dry run (peapod.invocation), or None.
COMMAND = snakemake_command() if workflow.is_main_process else None
if workflow.is_main_process:
    _stop, _warn = load_problems(COMMAND)
    if _warn:
        print(preflight.report(_warn, dry_run=True), file=sys.stderr)
    if _stop:
        sys.exit(preflight.report(_stop))


LONG_RULE_BENCHMARKS = {rule: str(getattr(rules, rule).benchmark) for rule in LONG_RULES}


# What the default target will run and roughly how long, once per run (dry runs too; not in jobs),
# and each deliberate setting worth a warning, once here rather than in every job's output.
if workflow.is_main_process:
    print(study_summary(config, PLAN, GENERATOR_SETTINGS, all_outputs(None), LONG_RULE_BENCHMARKS,
                        asked=COMMAND and COMMAND.targets), file=sys.stderr)
    for warning in setting_warnings(GENERATOR_SETTINGS, PLAN.runs(), config["preprocess"]["n_negatives"]):
        print(warning, file=sys.stderr)


# A command naming targets other than the default: the long jobs Snakemake will run for them, from its
# job graph (known only now, before the first job; dry runs have no such hook: their job table lists them).
onstart:
    if not COMMAND or set(COMMAND.targets) - {"all"}:
        needed = [(job.rule.name, job.wildcards_dict) for job in workflow.dag.needrun_jobs()]
        print(targets_plan(needed, LONG_RULE_BENCHMARKS, COMMAND.targets if COMMAND else ["the targets asked"]),
              file=sys.stderr)


# A finished run ends by saying what to open and how to build the report.
onsuccess:
    print(closing_block(closing_groups(), report_command()), file=sys.stderr)


# A failed run ends by naming each failed job, its log and the exception its log ends with.
onerror:
    print(failure_summary(log), file=sys.stderr)


rule all:
    input:
        all_outputs,
    default_target: True


# One target per stage, each with everything before it (README.md, "Stage targets").
rule data:
    input:
        lambda wildcards: expand(list(rules.preprocess.output), dataset=DATASETS)
        + [rules.tabulate_dataset_statistics.output.csv],


rule embeddings:
    input:
        lambda wildcards: cf_model_outputs(list(rules.train_embeddings.output)),


rule neighbors:
    input:
        lambda wildcards: cf_model_outputs(list(rules.build_neighbors.output)),


rule train:
    input:
        lambda wildcards: [run_path(paths.run_file("model.safetensors"), d, v, s) for d, v, s in PLAN.runs()],


rule evaluate:
    input:
        evaluated_runs,


rule tables:
    input:
        lambda wildcards: expand(list(rules.tabulate_results.output), table=RESULT_TABLES)
        + [rules.tabulate_dataset_statistics.output.csv],


rule report:
    input:
        lambda wildcards: aggregation_outputs(),


# The papers' baseline rows of every dataset (RecBole runs and the model-free rows).
rule baselines:
    input:
        baseline_targets,


# Recommendations out of finished runs: next items and explanations in original ids (recommend:).
rule recommendations:
    input:
        recommendation_targets,
