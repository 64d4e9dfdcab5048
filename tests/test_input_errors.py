"""Every malformed input stops with a message naming the file, the line or record, and the problem."""

from __future__ import annotations

import json
import os
import pickle
import re

import pytest

from peapod.data.p5 import read_datamaps, read_negatives, read_p5_directory, read_sequences
from peapod.data.safe_pickle import load_plain_pickle
from peapod.errors import InputError
from tests.conftest import write_lines


def expect_error(call, path, where, problem):
    with pytest.raises(InputError) as info:
        call()
    err = info.value
    assert err.path == str(path)
    assert err.where == where
    assert re.search(problem, err.problem), err.problem
    assert str(path) in str(err)
    return err


def test_unparseable_line(tmp_path):
    path = write_lines(tmp_path / "sequential_data.txt", ["1 2 3 4", "2 5 x6 7"])
    err = expect_error(lambda: read_sequences(path), path, 2, r"'x6' is not a positive integer id")
    assert str(err).startswith(f"{path}, line 2:")


def test_zero_id_is_rejected(tmp_path):
    path = write_lines(tmp_path / "s.txt", ["1 2 0 4"])
    expect_error(lambda: read_sequences(path), path, 1, r"'0' is not a positive integer id")


def test_duplicate_user_line(tmp_path):
    path = write_lines(tmp_path / "s.txt", ["1 2 3 4", "2 3 4 5", "1 6 7 8"])
    expect_error(lambda: read_sequences(path), path, 3, r"user 1 appears again \(first on line 1\)")


def test_sequence_too_short_for_leave_two_out(tmp_path):
    path = write_lines(tmp_path / "s.txt", ["1 2 3 4", "2 3 4"])
    expect_error(lambda: read_sequences(path), path, 2, r"user 2 has 2 item\(s\); leave-two-out .* at least 3")


def test_empty_file(tmp_path):
    path = tmp_path / "s.txt"
    path.write_bytes(b"")
    expect_error(lambda: read_sequences(path), path, None, "file is empty")


def test_blank_line_inside_file(tmp_path):
    path = tmp_path / "s.txt"
    path.write_bytes(b"1 2 3 4\n\n2 3 4 5\n")
    expect_error(lambda: read_sequences(path), path, 2, "empty line")


def test_wrong_encoding(tmp_path):
    path = tmp_path / "s.txt"
    path.write_bytes(b"1 2 3 4\n2 3 4 \xff5\n")
    expect_error(lambda: read_sequences(path), path, 2, r"not UTF-8 text")


def test_item_missing_from_the_maps(demo_dir):
    maps = json.loads((demo_dir / "datamaps.json").read_text())
    first_item = (demo_dir / "sequential_data.txt").read_text().split()[1]
    raw = maps["id2item"].pop(first_item)
    maps["item2id"].pop(raw)
    (demo_dir / "datamaps.json").write_text(json.dumps(maps))
    expect_error(
        lambda: read_p5_directory(demo_dir),
        demo_dir / "sequential_data.txt",
        "user 1",
        rf"user 1: item {first_item} is not in datamaps.json",
    )


def test_user_missing_from_the_maps(demo_dir):
    maps = json.loads((demo_dir / "datamaps.json").read_text())
    raw = maps["id2user"].pop("5")
    maps["user2id"].pop(raw)
    (demo_dir / "datamaps.json").write_text(json.dumps(maps))
    expect_error(
        lambda: read_p5_directory(demo_dir), demo_dir / "sequential_data.txt", "user 5", r"user 5 is not in datamaps.json"
    )


def test_mismatched_maps(demo_dir):
    path = demo_dir / "datamaps.json"
    maps = json.loads(path.read_text())
    raw1, raw2 = maps["id2user"]["1"], maps["id2user"]["2"]
    maps["user2id"][raw1], maps["user2id"][raw2] = "2", "1"
    path.write_text(json.dumps(maps))
    expect_error(
        lambda: read_datamaps(path), path, f"user2id['{raw1}']", rf"mismatched maps: user2id\['{raw1}'\] = 2"
    )


def test_map_sending_two_raw_ids_to_one_id(tmp_path):
    path = tmp_path / "datamaps.json"
    path.write_text(json.dumps({"user2id": {"A": "1", "B": "1"}, "item2id": {"X": "1"}}))
    expect_error(lambda: read_datamaps(path), path, "user2id", r"maps both 'A' and 'B' to 1")


def test_datamaps_invalid_json(tmp_path):
    path = tmp_path / "datamaps.json"
    path.write_text('{"user2id": {"A": "1",}\n')
    expect_error(lambda: read_datamaps(path), path, 1, r"invalid JSON")


def test_maps_listing_users_without_sequence(demo_dir):
    lines = (demo_dir / "sequential_data.txt").read_text().splitlines()
    write_lines(demo_dir / "sequential_data.txt", [l for l in lines if not l.startswith("7 ")])
    (demo_dir / "negative_samples.txt").unlink()
    expect_error(
        lambda: read_p5_directory(demo_dir),
        demo_dir / "sequential_data.txt",
        None,
        r"datamaps.json lists 1 user\(s\) with no sequence \(first: user 7\)",
    )


def test_negative_inside_the_history(tmp_path):
    seqs = {1: [2, 3, 4], 2: [5, 6, 7]}
    path = write_lines(tmp_path / "negative_samples.txt", ["1 10 11 12", "2 8 6 9"])
    expect_error(
        lambda: read_negatives(path, seqs, 3), path, 2, r"user 2: negative item 6 is in the user's own history"
    )


def test_negatives_wrong_count_and_duplicates_and_missing_user(tmp_path):
    seqs = {1: [2, 3, 4], 2: [5, 6, 7]}
    path = write_lines(tmp_path / "n.txt", ["1 10 11", "2 8 9 10"])
    expect_error(lambda: read_negatives(path, seqs, 3), path, 1, r"user 1 has 2 negatives, expected 3")
    path = write_lines(tmp_path / "n.txt", ["1 10 11 10", "2 8 9 10"])
    expect_error(lambda: read_negatives(path, seqs, 3), path, 1, r"negative item 10 is listed twice")
    path = write_lines(tmp_path / "n.txt", ["1 10 11 12"])
    expect_error(lambda: read_negatives(path, seqs, 3), path, None, r"1 user\(s\) have no negatives line \(first: user 2\)")
    path = write_lines(tmp_path / "n.txt", ["3 10 11 12"])
    expect_error(lambda: read_negatives(path, seqs, 3), path, 1, r"user 3 has no sequence")


def test_explanation_with_unknown_user(demo_dir):
    path = demo_dir / "exp_splits.pkl"
    splits = pickle.loads(path.read_bytes())
    splits["test"][3]["reviewerID"] = "NOBODY"
    path.write_bytes(pickle.dumps(splits, protocol=4))
    expect_error(lambda: read_p5_directory(demo_dir), path, "test[3]", r"reviewerID 'NOBODY' is not in datamaps.json")


def test_explanation_with_unknown_item_in_pod_json(demo_dir):
    (demo_dir / "exp_splits.pkl").unlink()
    path = demo_dir / "explanation.json"
    record = {"user": "1", "item": "99999", "explanation": "nice"}
    path.write_text(json.dumps({"train": [record], "val": [], "test": []}))
    expect_error(lambda: read_p5_directory(demo_dir), path, "train[0]", r"item 99999 is not a known item id")


def test_explanation_record_missing_field(demo_dir):
    path = demo_dir / "exp_splits.pkl"
    splits = pickle.loads(path.read_bytes())
    del splits["val"][0]["explanation"]
    path.write_bytes(pickle.dumps(splits, protocol=4))
    expect_error(lambda: read_p5_directory(demo_dir), path, "valid[0]", r"missing field 'explanation'")


class _Exploit:
    """Unpickling this would run a shell command."""

    def __reduce__(self):
        return (os.system, ("touch PWNED",))


def test_restricted_unpickler_refuses_a_malicious_pickle(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "exp_splits.pkl"
    path.write_bytes(pickle.dumps({"train": [_Exploit()], "val": [], "test": []}))
    err = expect_error(lambda: load_plain_pickle(path), path, None, r"refused pickle: refers to (posix|os)\.system")
    assert "only plain containers and scalars" in str(err)
    assert not (tmp_path / "PWNED").exists()


def test_restricted_unpickler_refuses_arbitrary_classes(tmp_path):
    import collections

    path = tmp_path / "p.pkl"
    path.write_bytes(pickle.dumps({"train": collections.OrderedDict(a=1)}))
    expect_error(lambda: load_plain_pickle(path), path, None, r"refers to collections.OrderedDict")


def test_truncated_pickle(tmp_path):
    path = tmp_path / "p.pkl"
    path.write_bytes(pickle.dumps({"train": list(range(100))})[:-10])
    expect_error(lambda: load_plain_pickle(path), path, None, r"not a readable pickle")


def test_pickle_of_wrong_shape(demo_dir):
    path = demo_dir / "exp_splits.pkl"
    path.write_bytes(pickle.dumps([1, 2, 3]))
    expect_error(lambda: read_p5_directory(demo_dir), path, None, r"expected a mapping of splits, got list")
    path.write_bytes(pickle.dumps({"train": [], "dev": [], "test": []}))
    expect_error(lambda: read_p5_directory(demo_dir), path, None, r"unknown split name 'dev'")


def test_missing_sequence_file(tmp_path):
    expect_error(lambda: read_p5_directory(tmp_path), tmp_path / "sequential_data.txt", None, "does not exist")
