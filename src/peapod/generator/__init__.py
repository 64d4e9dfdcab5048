"""The generator stage: a T5 wrapper with task prompts, a collaborative user prompt and whole-word
embeddings (PeaPOD; POD without the user prompt), its data, training, checkpoints and scoring.

Importing the package (e.g. its config, as the Snakefile does when it parses) loads no torch and
never queries a GPU, so a dry run stays fast and device-free."""
