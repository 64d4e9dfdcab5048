# PeaPOD / POD reproduction workflow. Stages, in order:
#   data (P5 files -> Parquet tables)  ->  [embeddings -> neighbours -> generator -> evaluation -> report]
# Default config: the embedded demo. The paper: --configfile config/paper.yaml
from snakemake.utils import min_version, validate

min_version("9.0")


configfile: "config/config.yaml"


validate(config, "workflow/schemas/config.schema.yaml")


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/generator.smk"


rule all:
    input:
        all_outputs,
    default_target: True
