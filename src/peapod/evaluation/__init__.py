"""Evaluation: ranking and text metrics, constrained decoding trie, per-user results."""
