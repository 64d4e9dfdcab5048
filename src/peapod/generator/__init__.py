"""The generator stage: a T5 wrapper with task prompts, a collaborative user prompt and whole-word
embeddings (PeaPOD; POD without the user prompt), its data, training, checkpoints and scoring."""

import os

# The Rust tokenizer's own thread pool fights torch's threads for the cores (20x slower steps on
# 2 CPU cores); batches are built in a background thread instead (see data.Batches.iterate).
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
