"""The scale generator writes valid P5 data of the requested size."""

from peapod.data.p5 import read_p5_directory
from peapod.data.synthetic import write_synthetic_p5


def test_synthetic_p5_is_valid_and_sized(tmp_path):
    write_synthetic_p5(tmp_path, n_users=500, n_items=400, n_interactions=5000, seed=1)
    raw = read_p5_directory(tmp_path)
    assert len(raw.sequences) == 500 and len(raw.items) == 400
    total = sum(map(len, raw.sequences.values()))
    assert 4000 < total < 6000
    assert all(len(s) >= 5 and len(set(s)) == len(s) for s in raw.sequences.values())
