"""The generator stage: a T5 wrapper with task prompts, a collaborative user prompt and whole-word
embeddings (PeaPOD; POD without the user prompt), its data, training, checkpoints and scoring."""

import os

import torch

if not torch.cuda.is_available():
    # Without a GPU the Rust tokenizer's own thread pool fights torch's threads for the cores
    # (steps 20x slower on 2 cores); batches are built in a background thread instead. With a GPU
    # the cores are free and its parallel batch encoding keeps the GPU fed.
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
