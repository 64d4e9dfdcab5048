"""Your own interactions (CSV, TSV, Parquet) and Amazon 2023 reviews become the five tables the P5
way: time order, the seed-2022 user shuffle, items numbered by first appearance (or at random), an
optional k-core, the file's ids kept, explanations from review text. Bad inputs are in the corpus
of tests/test_input_errors.py."""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from peapod.data.amazon import read_amazon_reviews
from peapod.data.interactions import InteractionsSpec, read_interactions
from peapod.data.p5_sequences import first_sentence
from peapod.data.preprocess import preprocess_dataset
from peapod.data.tables import TABLE_NAMES
from tests.helpers import dense_reviews
from tests.workflow_helpers import dry_run, dry_run_outputs, planned_outputs, runs_of, workflow_copy

HEADER = ["user", "item", "timestamp", "rating", "text"]
# Planted rows (the header is line 1; bob's two-line review makes the later rows a line further).
# Times are unix seconds or ISO-8601; 1970-01-01T00:05:00Z is 300 s. By time, each user's sequence is
#   alice: banana (100), apple (200), cherry (300)     alice's banana again at 400 is a repeat: dropped
#   bob:   apple (100), kiwi (150, the last line: the earliest of bob's two kiwis), banana (200)
#   carol: apple (100), pear (300, line 2), fig (300, line 11): a tie keeps file order
ROWS = [
    ["carol", "pear", "300", "4", "Juicy! Loved it."],  # line 2
    ["alice", "apple", "200", "5", "Crisp and sweet. Would buy again."],
    ["alice", "banana", "100", "3", ""],
    ["bob", "kiwi", "1970-01-01T00:05:00Z", "4", "Tart? Yes, very."],
    ["alice", "cherry", "300", "", "Too small"],
    ["bob", "apple", "100", "2", "Bruised.\nNot again."],
    ["carol", "apple", "1970-01-01 00:01:40", "5", "Fine."],  # 100 s, no zone: UTC
    ["bob", "banana", "200", "1", ""],
    ["carol", "fig", "300", "5", "Ripe. Soft."],  # line 11
    ["alice", "banana", "400", "3", "Again."],
    ["bob", "kiwi", "150", "4", "Early kiwi. Sweet."],  # bob's kiwi again, earlier in time: this one is kept
]
EXPECTED = {
    "alice": ["banana", "apple", "cherry"],
    "bob": ["apple", "kiwi", "banana"],
    "carol": ["apple", "pear", "fig"],
}
# The reviews with text that survive (the later of each repeated pair is dropped), and their first sentences.
EXPLANATIONS = {("carol", "pear"): "Juicy!", ("alice", "apple"): "Crisp and sweet.", ("bob", "kiwi"): "Early kiwi.",
                ("alice", "cherry"): "Too small", ("bob", "apple"): "Bruised.", ("carol", "apple"): "Fine.",
                ("carol", "fig"): "Ripe."}


def write_csv(path, rows=ROWS, header=HEADER, delimiter=","):
    import csv
    import io

    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="\n").writerows([header, *rows])
    data = buffer.getvalue().encode()
    path.write_bytes(gzip.compress(data, mtime=0) if path.suffix == ".gz" else data)
    return path


def write_parquet(path, rows=ROWS, header=HEADER):
    columns = {name: [row[i] or None for row in rows] for i, name in enumerate(header)}  # empty cells: null
    if "rating" in columns:
        columns["rating"] = [None if r is None else float(r) for r in columns["rating"]]
    pq.write_table(pa.table(columns), path)
    return path


def preprocess(tmp_path, spec, inputs, name="mine", n_negatives=2):
    out = tmp_path / f"out_{len(list(tmp_path.glob('out_*')))}"
    out.mkdir()
    outputs = {table: str(out / f"{table}.parquet") for table in TABLE_NAMES} | {"stats": str(out / "stats.json")}
    result = preprocess_dataset(name, spec, inputs, outputs, n_negatives=n_negatives)
    tables = {table: pq.read_table(outputs[table]) for table in TABLE_NAMES}
    assert all(tables[t].equals(result.tables[t]) for t in TABLE_NAMES)
    return tables, result.stats


def raw_sequences(tables) -> dict[str, list[str]]:
    """{the file's user id: the file's item ids in sequence order} from the tables."""
    user_raw = dict(zip(*tables["users"].select(["user_id", "raw_id"]).to_pydict().values()))
    item_raw = dict(zip(*tables["items"].select(["item_id", "raw_id"]).to_pydict().values()))
    seq = tables["sequences"].to_pandas().sort_values(["user_id", "position"])
    return {user_raw[u]: [item_raw[i] for i in g["item_id"]] for u, g in seq.groupby("user_id")}


def test_csv_round_trip_the_p5_way(tmp_path):
    path = write_csv(tmp_path / "mine.csv")
    tables, stats = preprocess(tmp_path, {"source": "interactions", "path": str(path)}, {"interactions": str(path)})
    # The file's ids are kept, and every user's items are in time order (a tie in file order).
    assert raw_sequences(tables) == EXPECTED
    # Users numbered in the order of a seed-2022 shuffle of their first appearance in the file.
    first_seen = ["carol", "alice", "bob"]
    random.Random(2022).shuffle(first_seen)
    assert tables["users"].column("raw_id").to_pylist() == first_seen
    assert tables["users"].column("user_id").to_pylist() == [1, 2, 3]
    # Items numbered 1..M by first appearance along users 1..N: user 1's items are 1, 2, 3.
    expected_ids: dict[str, int] = {}
    for user in first_seen:
        for item in EXPECTED[user]:
            expected_ids.setdefault(item, len(expected_ids) + 1)
    items = tables["items"].to_pydict()
    assert dict(zip(items["raw_id"], items["item_id"])) == expected_ids
    seq = tables["sequences"].to_pydict()
    assert [i for u, i in zip(seq["user_id"], seq["item_id"]) if u == 1] == [1, 2, 3]
    # Leave-two-out: the last item is test, the one before valid, the rest train.
    assert seq["role"] == ["train", "valid", "test"] * 3
    candidates = tables["candidates"].to_pandas()
    for user, split, target in zip(candidates["user_id"], candidates["split"], candidates["target"]):
        items_of_user = [i for u, i in zip(seq["user_id"], seq["item_id"]) if u == user]
        assert target == items_of_user[-1 if split == "test" else -2]
    # The repeat and the explanation rule are recorded.
    notes = " ".join(stats["notes"])
    assert "2 repeated (user, item) interaction(s) at a later time dropped" in notes
    assert "first sentence" in notes and "8:1:1" in notes
    assert stats["users"] == 3 and stats["items"] == 6 and stats["reviews"] == 9


def test_explanations_come_from_the_review_text(tmp_path):
    path = write_csv(tmp_path / "mine.csv")
    tables, stats = preprocess(tmp_path, {"source": "interactions", "path": str(path)}, {"interactions": str(path)})
    user_raw = dict(zip(*tables["users"].select(["user_id", "raw_id"]).to_pydict().values()))
    item_raw = dict(zip(*tables["items"].select(["item_id", "raw_id"]).to_pydict().values()))
    exp = tables["explanations"].to_pydict()
    got = {(user_raw[u], item_raw[i]): text for u, i, text in zip(exp["user_id"], exp["item_id"], exp["explanation"])}
    assert got == EXPLANATIONS
    assert set(exp["feature"]) == {None}
    # 7 reviews with text: 8:1:1 gives int(5.6) = 5 train, int(0.7) = 0 valid, the rest (2) test.
    assert stats["explanations"] == {"train": 5, "valid": 0, "test": 2}
    ratings = {(user_raw[u], item_raw[i]): r for u, i, r in zip(exp["user_id"], exp["item_id"], exp["rating"])}
    assert ratings[("alice", "apple")] == 5.0 and ratings[("alice", "cherry")] is None
    # Switched off, the dataset has none (and the explanation task is off).
    tables, stats = preprocess(tmp_path, {"source": "interactions", "path": str(path), "explanations_from_text": False},
                               {"interactions": str(path)})
    assert tables["explanations"].num_rows == 0 and stats["explanation_task"] is False


def test_first_sentence_rule():
    assert first_sentence("Great  value.<br />Would buy again!") == "Great value."
    assert first_sentence("Is it good? Yes") == "Is it good?"
    assert first_sentence("Version 2.5 is better than 2.0") == "Version 2.5 is better than 2.0"
    assert first_sentence("no end mark\nat all") == "no end mark at all"


def test_csv_tsv_gzip_and_parquet_give_identical_tables(tmp_path):
    files = [write_csv(tmp_path / "a.csv"), write_csv(tmp_path / "b.tsv.gz", delimiter="\t"),
             write_parquet(tmp_path / "c.parquet")]
    results = [preprocess(tmp_path, {"source": "interactions", "path": str(p)}, {"interactions": str(p)})[0]
               for p in files]
    for other in results[1:]:
        for name in TABLE_NAMES:
            assert other[name].equals(results[0][name]), name
    assert raw_sequences(results[0]) == EXPECTED


def test_parquet_with_typed_columns_and_renamed_columns(tmp_path):
    """Integer and timestamp-typed time columns read the same as text; columns: maps the names."""
    rows = [(u, i, t) for u, items in EXPECTED.items() for t, i in zip((100, 200, 300), items)]
    random.Random(0).shuffle(rows)
    as_seconds = pa.table({"who": [r[0] for r in rows], "what": [r[1] for r in rows], "when": [r[2] for r in rows]})
    pq.write_table(as_seconds, tmp_path / "s.parquet")
    typed = as_seconds.set_column(2, "when", pa.array([r[2] * 1000 for r in rows], pa.timestamp("ms", tz="UTC")))
    pq.write_table(typed, tmp_path / "t.parquet")
    spec = InteractionsSpec(columns={"user": "who", "item": "what", "timestamp": "when"})
    a = read_interactions(tmp_path / "s.parquet", spec)
    b = read_interactions(tmp_path / "t.parquet", spec)
    assert (a.users, a.items, a.sequences) == (b.users, b.items, b.sequences)
    assert {a.users[u]: [a.items[i] for i in s] for u, s in a.sequences.items()} == EXPECTED
    assert a.explanations is None  # no text column


def dense_rows(users, items, extra=()):
    """Every user with every item, at times that differ per user; plus ``extra`` rows."""
    rows = [[u, i, str(100 * n + 10 * m)] for n, u in enumerate(users) for m, i in enumerate(items)]
    return rows + [list(r) for r in extra]


def test_k_core_drops_rare_items_and_then_short_users(tmp_path):
    users, items = ["u1", "u2", "u3", "u4"], ["a", "b", "c", "d"]
    # eve has 3 items, one of them (durian) only hers: a 3-core drops durian, then eve (2 items).
    rows = dense_rows(users, items, [["eve", "a", "1"], ["eve", "b", "2"], ["eve", "durian", "3"]])
    path = write_csv(tmp_path / "k.csv", rows, HEADER[:3])
    unfiltered = read_interactions(path)
    assert "eve" in unfiltered.users.values() and "durian" in unfiltered.items.values()
    cored = read_interactions(path, k=3)
    assert sorted(cored.users.values()) == users and sorted(cored.items.values()) == items
    assert any("3-core" in note for note in cored.notes)
    assert any("no k-core filter" in note for note in unfiltered.notes)


def test_random_item_numbering_is_a_permutation_of_the_same_data(tmp_path):
    path = write_csv(tmp_path / "mine.csv")
    spec = {"source": "interactions", "path": str(path)}
    p5, _ = preprocess(tmp_path, spec, {"interactions": str(path)})
    rnd, stats = preprocess(tmp_path, spec | {"item_numbering": "random"}, {"interactions": str(path)})
    assert raw_sequences(rnd) == raw_sequences(p5) == EXPECTED
    assert sorted(rnd["items"].column("item_id").to_pylist()) == sorted(p5["items"].column("item_id").to_pylist())
    assert rnd["sequences"].column("item_id").to_pylist() != p5["sequences"].column("item_id").to_pylist()
    assert rnd["users"].equals(p5["users"])
    assert any("at random" in note for note in stats["notes"])


def test_duplicates_drop_keeps_the_first_line(tmp_path):
    rows = dense_rows(["u1", "u2", "u3"], ["a", "b", "c"])
    path = write_csv(tmp_path / "d.csv", rows + [rows[4]], HEADER[:3])
    raw = read_interactions(path, InteractionsSpec(duplicates="drop"))
    assert raw.sequences == read_interactions(write_csv(tmp_path / "e.csv", rows, HEADER[:3])).sequences
    assert any("1 duplicate row(s)" in note for note in raw.notes)


# ---- Amazon Reviews 2023 ----------------------------------------------------------------------


def as_2023(record: dict, **extra) -> dict:
    """A 2014 review as the 2023 release writes it: milliseconds, parent_asin as the item, the
    variant's own asin beside it."""
    return {"rating": 5.0, "title": "t", "text": f"Review of {record['asin']}. More words.", "images": [],
            "asin": record["asin"] + "-variant", "parent_asin": record["asin"], "user_id": record["reviewerID"],
            "timestamp": record["unixReviewTime"] * 1000, "helpful_vote": 0, "verified_purchase": True} | extra


def write_jsonl(path, records):
    data = "".join(json.dumps(r) + "\n" for r in records).encode()
    path.write_bytes(gzip.compress(data, mtime=0) if path.suffix == ".gz" else data)
    return path


def test_amazon_2023_reads_as_the_same_data_in_2014_form(tmp_path):
    records = dense_reviews()
    old = read_amazon_reviews(write_jsonl(tmp_path / "reviews_Test_5.json", records))
    new = read_amazon_reviews(write_jsonl(tmp_path / "Test.jsonl.gz", [as_2023(r) for r in records]))
    assert (new.users, new.items, new.sequences) == (old.users, old.items, old.sequences)
    assert set(new.items.values()) == {f"I{i}" for i in range(6)}  # parent_asin, not the variant's asin
    assert any("Amazon 2023 reviews" in note for note in new.notes)


def test_amazon_2023_orders_by_milliseconds_and_5_cores(tmp_path):
    records = [as_2023(r) for r in dense_reviews()]
    # U0's reviews of I0 and I1 half a second apart, the later one first in the file.
    for r in records:
        if r["user_id"] == "U0" and r["parent_asin"] in ("I0", "I1"):
            r["timestamp"] = 5_000_000 + (500 if r["parent_asin"] == "I0" else 0)
    records.sort(key=lambda r: (r["user_id"] != "U0", r["parent_asin"] != "I0"))
    # A sparse user and a sparse item: the 5-core drops them.
    records += [as_2023({"reviewerID": "SPARSE", "asin": "I0", "unixReviewTime": 1}),
                as_2023({"reviewerID": "U1", "asin": "RARE", "unixReviewTime": 1})]
    raw = read_amazon_reviews(write_jsonl(tmp_path / "Test.jsonl", records), explanations_from_text=True)
    sequences = {raw.users[u]: [raw.items[i] for i in items] for u, items in raw.sequences.items()}
    assert "SPARSE" not in sequences and "RARE" not in raw.items.values()
    assert sequences["U0"].index("I1") < sequences["U0"].index("I0")
    assert len(sequences) == 6 and len(raw.items) == 6 and sum(map(len, sequences.values())) == 36
    assert len(raw.explanations) == 36
    assert all(r.explanation == f"Review of {raw.items[r.item_id]}." and r.feature is None for r in raw.explanations)
    splits = [r.split for r in raw.explanations]
    assert [splits.count(s) for s in ("train", "valid", "test")] == [28, 3, 5]  # int(28.8), int(3.6), the rest


def test_amazon_without_explanations_from_text_has_none(tmp_path):
    path = write_jsonl(tmp_path / "Test.jsonl", [as_2023(r) for r in dense_reviews()])
    assert read_amazon_reviews(path).explanations is None


# ---- configuration and workflow ------------------------------------------------------------


def test_dry_run_with_an_interactions_dataset_plans_its_preprocess_job(tmp_path):
    work = workflow_copy(tmp_path)
    write_csv(work / "mine.csv")
    cfg = yaml.safe_load((work / "config" / "config.yaml").read_text())
    cfg["datasets"] = {"mine": {"source": "interactions", "path": "mine.csv", "k_core": 0}}
    (work / "own.yaml").write_text(yaml.safe_dump(cfg))
    jobs = dry_run_outputs(work, ["--configfile", "own.yaml"], cores=2)
    assert [p.split("/")[1] for p in jobs["preprocess"]] == ["mine"]
    assert "make_demo_dataset" not in jobs


def test_a_config_of_datasets_alone_plans_peapod_against_pod_at_three_seeds(tmp_path):
    """docs/own-data.md's own-data path: a config holding only datasets: runs PeaPOD and POD at
    seeds 0, 1, 2 (the tables' paired tests), no RecBole baseline, and never the demo dataset, also
    when given after the demo's config; the run starts by saying so."""
    work = workflow_copy(tmp_path)
    write_csv(work / "mine.csv")
    (work / "own.yaml").write_text("datasets:\n  mine: {source: interactions, path: mine.csv}\n")
    proc = dry_run(work, ["--configfile", "own.yaml"], cores=2)
    jobs = planned_outputs(proc.stdout)
    for rule in ("train_generator", "evaluate_generator"):
        assert runs_of(jobs[rule]) == {("mine", "peapod"), ("mine", "pod")}, rule
        assert sorted(Path(p).parts[5] for p in jobs[rule]) == ["seed0", "seed0", "seed1", "seed1", "seed2", "seed2"]
    assert "make_demo_dataset" not in jobs and "train_baseline" not in jobs
    assert [p.split("/")[1] for p in jobs["preprocess"]] == ["mine"]
    assert not [p for outputs in jobs.values() for p in outputs if p.startswith("results/demo/")]
    plan = proc.stderr
    assert "variants: peapod, pod at seeds 0, 1, 2" in plan and "tables: PeaPOD against POD, paired t-tests over 3 seeds" in plan
    assert "RecBole baselines: none" in plan and "6 generator trainings, 6 evaluations" in plan
    # After the demo's config (to borrow its settings): its variants and seeds, only our dataset.
    jobs = dry_run_outputs(work, ["--configfile", "config/config.yaml", "own.yaml"], cores=2)
    assert [p.split("/")[1] for p in jobs["preprocess"]] == ["mine"]
    assert not [p for outputs in jobs.values() for p in outputs if p.startswith("results/demo/")]
    assert runs_of(jobs["train_generator"]) == {("mine", v) for v in ("peapod", "mlp", "pod")}


def test_the_documented_example_file_and_config_entries_work(tmp_path):
    """docs/own-data.md's example CSV reads as described, and its config entries validate."""
    import re

    from peapod.config import validate_config
    from tests.helpers import REPO

    page = (REPO / "docs" / "own-data.md").read_text()
    csv_block = re.search(r"```csv\n(.*?)```", page, re.S).group(1)
    raw = read_interactions(write_bytes(tmp_path / "interactions.csv", csv_block.encode()))
    assert {raw.users[u]: [raw.items[i] for i in s] for u, s in raw.sequences.items()} == {
        "alice": ["B0001", "B0002", "B0003"], "bob": ["B0001", "B0002", "B0003"]}
    assert [e.explanation for e in raw.explanations if raw.users[e.user_id] == "alice"] == [
        "Great value.", "Smells nice.", "Soft, light, and cheap!"]
    for block in re.findall(r"```yaml\n(.*?)```", page, re.S):
        validate_config(yaml.safe_load(block), REPO / "workflow" / "schemas" / "config.schema.yaml")


def write_bytes(path, data: bytes):
    path.write_bytes(data)
    return path
