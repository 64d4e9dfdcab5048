"""Each input format of the data stage is read into the same dataset."""

from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path

import pytest

from peapod.data.p5 import read_datamaps, read_p5_directory, read_sequences
from peapod.data.tables import build_tables, sequences_from_table
from tests.helpers import write_lines


def test_crlf_and_lf_sequences_read_identically(tmp_path):
    lines = ["1 3 4 5", "2 4 5 6 7"]
    lf = read_sequences(write_lines(tmp_path / "lf.txt", lines, "\n"))
    crlf = read_sequences(write_lines(tmp_path / "crlf.txt", lines, "\r\n"))
    assert lf == crlf == {1: [3, 4, 5], 2: [4, 5, 6, 7]}


def test_demo_directory_reads_all_four_files(demo_dir):
    raw = read_p5_directory(demo_dir)
    assert len(raw.sequences) == 120
    assert raw.test_negatives is not None and all(len(v) == 99 for v in raw.test_negatives.values())
    assert raw.explanations and {r.split for r in raw.explanations} == {"train", "valid", "test"}
    maps = json.loads((demo_dir / "datamaps.json").read_text())
    assert raw.users[1] == maps["id2user"]["1"]
    assert raw.items[7] == maps["id2item"]["7"]


def test_pod_file_names_and_explanation_json(demo_dir, tmp_path):
    """POD names the files sequential.txt / negative.txt and stores explanations as JSON with
    numeric user/item ids; the result must equal the P5 reading."""
    p5 = read_p5_directory(demo_dir)
    pod = tmp_path / "pod"
    pod.mkdir()
    shutil.copy(demo_dir / "sequential_data.txt", pod / "sequential.txt")
    shutil.copy(demo_dir / "negative_samples.txt", pod / "negative.txt")
    shutil.copy(demo_dir / "datamaps.json", pod / "datamaps.json")
    splits = {"train": [], "val": [], "test": []}
    names = {"train": "train", "valid": "val", "test": "test"}
    for r in p5.explanations:
        splits[names[r.split]].append(
            {"user": str(r.user_id), "item": str(r.item_id), "explanation": r.explanation, "feature": r.feature}
        )
    (pod / "explanation.json").write_text(json.dumps(splits))
    raw = read_p5_directory(pod)
    assert raw.sequences == p5.sequences
    assert raw.test_negatives == p5.test_negatives
    assert [(r.split, r.user_id, r.item_id, r.explanation) for r in raw.explanations] == [
        (r.split, r.user_id, r.item_id, r.explanation) for r in p5.explanations
    ]


def test_datamaps_with_only_id2user_and_id2item(demo_dir, tmp_path):
    maps = json.loads((demo_dir / "datamaps.json").read_text())
    path = tmp_path / "datamaps.json"
    path.write_text(json.dumps({"id2user": maps["id2user"], "id2item": maps["id2item"]}))
    users, items = read_datamaps(path)
    full_users, full_items = read_datamaps(demo_dir / "datamaps.json")
    assert users == full_users and items == full_items


def test_datamaps_with_only_user2id_and_item2id(demo_dir, tmp_path):
    maps = json.loads((demo_dir / "datamaps.json").read_text())
    path = tmp_path / "datamaps.json"
    path.write_text(json.dumps({"user2id": maps["user2id"], "item2id": maps["item2id"]}))
    assert read_datamaps(path) == read_datamaps(demo_dir / "datamaps.json")


def test_missing_negatives_are_sampled_with_a_fixed_seed_and_recorded(demo_dir):
    (demo_dir / "negative_samples.txt").unlink()
    raw = read_p5_directory(demo_dir)
    assert raw.test_negatives is None
    first = build_tables(raw, "demo", negative_seed=5)
    again = build_tables(raw, "demo", negative_seed=5)
    other = build_tables(raw, "demo", negative_seed=6)
    cands = first.tables["candidates"].to_pylist()
    assert cands == again.tables["candidates"].to_pylist()
    assert cands != other.tables["candidates"].to_pylist()
    for row in cands:
        negs = row["negatives"]
        assert len(negs) == 99 and len(set(negs)) == 99
        assert not set(negs) & set(raw.sequences[row["user_id"]])
    assert "sampled" in first.stats["test_negatives_source"]
    assert any("seed 5" in note for note in first.stats["notes"])


def test_explanations_optional_and_switch_task_off(demo_dir, caplog, tmp_path):
    from peapod.data.preprocess import preprocess_dataset

    (demo_dir / "exp_splits.pkl").unlink()
    outputs = {n: str(tmp_path / f"{n}.parquet") for n in ("users", "items", "sequences", "candidates", "explanations")}
    outputs["stats"] = str(tmp_path / "stats.json")
    inputs = {k: str(demo_dir / f) for k, f in (("sequences", "sequential_data.txt"), ("datamaps", "datamaps.json"))}
    with caplog.at_level("WARNING", logger="peapod"):
        tables = preprocess_dataset("demo", {"source": "p5"}, inputs, outputs)
    assert tables.stats["explanation_task"] is False
    assert tables.tables["explanations"].num_rows == 0
    assert "explanation task is switched off" in caplog.text
    assert json.loads(Path(outputs["stats"]).read_text())["explanation_task"] is False


def test_tables_round_trip_and_leave_two_out_roles(demo_dir):
    raw = read_p5_directory(demo_dir)
    tables = build_tables(raw, "demo").tables
    assert sequences_from_table(tables["sequences"]) == raw.sequences
    seq = tables["sequences"].to_pandas()
    for user, group in seq.groupby("user_id"):
        roles = group.sort_values("position")["role"].tolist()
        assert roles[-2:] == ["valid", "test"] and set(roles[:-2]) == {"train"}
    cands = tables["candidates"].to_pandas()
    test = cands[cands.split == "test"].set_index("user_id")
    valid = cands[cands.split == "valid"].set_index("user_id")
    for user, items in raw.sequences.items():
        assert test.loc[user, "target"] == items[-1]
        assert valid.loc[user, "target"] == items[-2]
        assert not set(valid.loc[user, "negatives"]) & set(items)


def test_each_split_holds_out_its_item_and_gives_the_history_before_it():
    """peapod.splits by hand: test holds out the last item, valid the one before; each split's
    history stops before its target (a validation prompt holding its own target would leak it)."""
    from peapod.splits import held_out_items, held_out_target, history_before, role_of, training_items

    items = [10, 11, 12, 13, 14]
    assert held_out_target(items, "test") == 14 and history_before(items, "test") == [10, 11, 12, 13]
    assert held_out_target(items, "valid") == 13 and history_before(items, "valid") == [10, 11, 12]
    assert training_items(items) == [10, 11, 12] and held_out_items(items) == [13, 14]
    assert [role_of(p, len(items)) for p in range(len(items))] == ["train"] * 3 + ["valid", "test"]


def test_table_schemas_are_typed(demo_dir):
    import pyarrow as pa

    tables = build_tables(read_p5_directory(demo_dir), "demo").tables
    assert tables["sequences"].schema.field("item_id").type == pa.int32()
    assert tables["candidates"].schema.field("negatives").type == pa.list_(pa.int32())
    assert tables["explanations"].schema.field("rating").type == pa.float32()


def test_exp_splits_pickle_is_loaded_through_the_restricted_unpickler(demo_dir):
    """A genuine P5-style pickle (protocol 2, dicts/lists/str/float/int, and a set) loads; the same
    pickle with one harmless but non-plain object in it (a Decimal, which plain pickle.loads
    accepts) is refused, naming the class: the reader goes through the restricted unpickler."""
    from decimal import Decimal

    from peapod.errors import InputError

    splits = pickle.loads((demo_dir / "exp_splits.pkl").read_bytes())
    splits["train"][0]["tags"] = {"a", "b"}
    (demo_dir / "exp_splits.pkl").write_bytes(pickle.dumps(splits, protocol=2))
    raw = read_p5_directory(demo_dir)
    assert len(raw.explanations) == sum(len(v) for v in splits.values())
    assert raw.explanations[0].explanation == splits["train"][0]["explanation"]
    splits["train"][1]["overall"] = Decimal("4.0")
    data = pickle.dumps(splits, protocol=2)
    assert pickle.loads(data)["train"][1]["overall"] == Decimal("4.0")  # plain pickle would accept it
    (demo_dir / "exp_splits.pkl").write_bytes(data)
    with pytest.raises(InputError, match=r"exp_splits\.pkl.*refers to decimal\.Decimal"):
        read_p5_directory(demo_dir)


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_trailing_blank_lines_are_accepted(tmp_path, newline):
    path = tmp_path / "s.txt"
    path.write_bytes(f"1 2 3 4{newline}{newline}{newline}".encode())
    assert read_sequences(path) == {1: [2, 3, 4]}


def test_random_item_numbering_of_p5_files_is_a_consistent_relabelling(demo_dir):
    """item_numbering: random on P5 input: every ASIN keeps its sequences, negatives and
    explanations under its new id; the P5 leak (consecutive ids along a history) disappears."""
    from peapod.data.p5 import discover_p5_files
    from peapod.data.preprocess import read_source

    inputs = discover_p5_files(demo_dir)
    p5 = read_source({"source": "p5"}, inputs, 99)
    rnd = read_source({"source": "p5", "item_numbering": "random"}, inputs, 99)
    assert rnd.users == p5.users and sorted(rnd.items) == sorted(p5.items)
    asin = p5.items
    for uid in p5.sequences:
        assert [asin[i] for i in p5.sequences[uid]] == [rnd.items[i] for i in rnd.sequences[uid]]
        assert [asin[i] for i in p5.test_negatives[uid]] == [rnd.items[i] for i in rnd.test_negatives[uid]]
    assert [(r.user_id, asin[r.item_id], r.split) for r in p5.explanations] == \
        [(r.user_id, rnd.items[r.item_id], r.split) for r in rnd.explanations]

    def next_id_rate(raw):  # how often a user's next item has the next id
        pairs = [(a, b) for seq in raw.sequences.values() for a, b in zip(seq, seq[1:])]
        return sum(b == a + 1 for a, b in pairs) / len(pairs)

    assert next_id_rate(rnd) < next_id_rate(p5) / 2
    assert any("random" in note for note in rnd.notes)
    assert read_source({"source": "p5", "item_numbering": "random"}, inputs, 99).sequences == rnd.sequences
