"""The generator stage: a T5 wrapper with task prompts, a collaborative user prompt and whole-word
embeddings (PeaPOD; POD without the user prompt), its data, training, checkpoints and scoring."""
