"""PeaPOD reproduction: data, CF embeddings, neighbours, T5 generator, evaluation, aggregation."""

__version__ = "0.1.0"
