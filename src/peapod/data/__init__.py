"""Data stage: read P5 / POD / raw Amazon inputs, write typed Parquet tables and statistics."""
