"""Every malformed input stops with a message naming the file, the line or record, and the problem."""

from __future__ import annotations

import collections
import gzip
import json
import os
import pickle
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from peapod.data.amazon import read_amazon_reviews
from peapod.data.interactions import InteractionsSpec, read_interactions
from peapod.data.p5 import discover_p5_files, read_p5_directory, read_sequences
from peapod.data.preprocess import preprocess_dataset
from peapod.data.tables import TABLE_NAMES
from peapod.embeddings.user_file import load_user_file
from peapod.errors import InputError
from peapod.io import atomic_path
from tests.helpers import dense_reviews, write_lines


# ---- the corpus: one broken file per row, for every input format -------------------------------
#
# Each row: (name, build, where, fragments). ``build(demo_dir, tmp_path)`` breaks one file and
# returns (the path the error must name, the call that reads it). The error must be an InputError
# naming that path, at ``where`` (line number, record, or None for the whole file), and its
# message must contain every fragment.

SEQ, NEG, MAPS = "sequential_data.txt", "negative_samples.txt", "datamaps.json"
PKL, POD = "exp_splits.pkl", "explanation.json"
USER_IDS = np.arange(1, 11)  # the dataset's users, for the embedding file cases


def p5(name, mutate):
    """Break ``name`` in the demo directory with ``mutate(path)``; read the whole directory."""

    def build(demo, tmp):
        path = demo / name
        if name == POD:  # a POD copy: explanation.json instead of exp_splits.pkl
            (demo / PKL).unlink()
            path.write_text(json.dumps({"train": [pod_record()], "val": [], "test": []}))
        mutate(path)
        return path, lambda: read_p5_directory(demo)

    return build


def pod_record(**fields):
    return {"user": "1", "item": "1", "explanation": "nice scent", "feature": "scent"} | fields


LATIN1_POD = json.dumps(
    {"train": [pod_record(explanation="caf\xe9")], "val": [], "test": []}, indent=1, ensure_ascii=False
).encode("latin-1")


def put(data: bytes):
    return lambda path: path.write_bytes(data)


def cut_bytes(data: bytes, line: int, keep: int) -> bytes:
    """``data`` truncated inside ``line`` (1-based), after ``keep`` bytes of it."""
    lines = data.split(b"\n")
    return b"\n".join(lines[: line - 1] + [lines[line - 1][:keep]])


def cut_in_line(line: int, keep: int):
    return lambda path: path.write_bytes(cut_bytes(path.read_bytes(), line, keep))


def keep_lines(n: int):
    return lambda path: path.write_bytes(b"".join(path.read_bytes().splitlines(keepends=True)[:n]))


def reencode(encoding: str):
    return lambda path: path.write_bytes(path.read_text(encoding="utf-8").encode(encoding))


def replace(old: bytes, new: bytes):
    def mutate(path):
        data = path.read_bytes()
        assert old in data, old
        path.write_bytes(data.replace(old, new, 1))

    return mutate


def edit_line(line: int, edit):
    """Replace line ``line`` (1-based) by ``edit(list of its tokens)`` joined with spaces."""

    def mutate(path):
        lines = path.read_text().split("\n")
        lines[line - 1] = " ".join(edit(lines[line - 1].split()))
        path.write_text("\n".join(lines))

    return mutate


def latin1_on_line(line: int):
    """Append a Latin-1 encoded word to line ``line``: bytes that are not UTF-8."""

    def mutate(path):
        lines = path.read_bytes().split(b"\n")
        lines[line - 1] += " caf\xe9".encode("latin-1")
        path.write_bytes(b"\n".join(lines))

    return mutate


def edit_json(edit):
    def mutate(path):
        obj = json.loads(path.read_text())
        edit(obj)
        path.write_text(json.dumps(obj, indent=2))

    return mutate


def edit_pickle(edit):
    def mutate(path):
        splits = pickle.loads(path.read_bytes())
        edit(splits)
        path.write_bytes(pickle.dumps(splits, protocol=4))

    return mutate


def mismatch_user_1(maps):
    """user2id sends user 1's raw id (renamed) to 2, while id2user still says 1."""
    raw = maps["id2user"]["1"]
    del maps["user2id"][raw]
    maps["user2id"]["RAW_ONE"] = "2"
    maps["id2user"]["1"] = "RAW_ONE"


def only_id_maps(maps):
    del maps["user2id"], maps["item2id"]


class _CodePayload:
    """Unpickling this would run ``call(*args)``; the marker file shows whether it ran."""

    def __init__(self, call, *args):
        self.call, self.args = call, args

    def __reduce__(self):
        return self.call, self.args


def code_pickle(protocol: int, call=os.system, arg="touch {marker}"):
    def build(demo, tmp):
        payload = _CodePayload(call, arg.format(marker=str(tmp / "PWNED")))
        path = demo / PKL
        path.write_bytes(pickle.dumps({"train": [payload], "val": [], "test": []}, protocol=protocol))
        return path, lambda: read_p5_directory(demo)

    return build


def gz(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def reviews(make, suffix: str = ".json"):
    """A raw Amazon review file made by ``make(the JSON lines of a full 5-core, 36 lines)``."""

    def build(demo, tmp):
        path = tmp / f"reviews_Test_5{suffix}"
        path.write_bytes(make("".join(json.dumps(r) + "\n" for r in dense_reviews()).encode()))
        return path, lambda: read_amazon_reviews(path)

    return build


def reviews_2023(make, suffix: str = ".jsonl", core: int = 5):
    """An Amazon 2023 review file (milliseconds, parent_asin) made by ``make(its 36 lines)``."""

    def build(demo, tmp):
        path = tmp / f"Test{suffix}"
        lines = [json.dumps({"user_id": r["reviewerID"], "parent_asin": r["asin"], "asin": r["asin"] + "v",
                             "timestamp": r["unixReviewTime"] * 1000, "rating": 4.0, "text": "ok"}) + "\n"
                 for r in dense_reviews()]
        path.write_bytes(make("".join(lines).encode()))
        return path, lambda: read_amazon_reviews(path, core=core)

    return build


# A good interactions CSV: 4 users x 4 items, each user at distinct times (lines 2..17).
OWN_HEADER = "user,item,timestamp,rating,text"
OWN_ROWS = [f"u{u},i{i},{1000 * u + 10 * i},{1 + (u + i) % 5},Item {i} for user {u}. Fine."
            for u in range(4) for i in range(4)]


DEFAULT_SPEC = InteractionsSpec()


def own(make, suffix: str = ".csv", spec: InteractionsSpec = DEFAULT_SPEC, damage=None, **options):
    """Your own interactions file: ``make(header, rows)`` gives the lines (header first) of a
    .csv/.tsv(.gz) or the rows of a .parquet (all columns text); ``damage`` then edits its bytes."""

    def build(demo, tmp):
        path = tmp / f"mine{suffix}"
        lines = make(OWN_HEADER, list(OWN_ROWS))
        if suffix == ".parquet":
            header = lines[0].split(",")
            cells = [line.split(",") for line in lines[1:]]
            pq.write_table(pa.table({name: [row[i] for row in cells] for i, name in enumerate(header)}), path)
        else:
            data = ("\n".join(lines) + "\n").encode()
            path.write_bytes(gz(data) if suffix.endswith(".gz") else data)
        if damage:
            path.write_bytes(damage(path.read_bytes()))
        return path, lambda: read_interactions(path, spec, **options)

    return build


def with_rows(*extra: str, replace_line: dict[int, str] | None = None):
    """The good file's lines with line ``n`` (1-based, header 1) replaced, then ``extra`` appended."""

    def make(header, rows):
        lines = [header, *rows]
        for number, text in (replace_line or {}).items():
            lines[number - 1] = text
        return lines + list(extra)

    return make


def embeddings(name: str, write, ids: str | None = None, write_ids=None):
    """A user-embedding file for USER_IDS with 4 dimensions, written by ``write(path)``, plus an
    ids file for .npy (good unless ``write_ids`` breaks it; the error then names the ids file)."""

    def build(demo, tmp):
        path = tmp / name
        write(path)
        ids_path = None
        if ids is not None:
            ids_path = tmp / ids
            (write_ids or (lambda p: np.save(p, USER_IDS)))(ids_path)
        return (ids_path if write_ids else path), lambda: load_user_file(path, USER_IDS, 4, ids_path)

    return build


def good_parquet(path, ids=USER_IDS, dim=4):
    ids = ids if isinstance(ids, pa.Array) else pa.array(ids, pa.int64())
    pq.write_table(pa.table({"user_id": ids, "embedding": np.ones((len(ids), dim)).tolist()}), path)


def ragged_parquet(path):
    rows = [[1.0] * 4] * (len(USER_IDS) - 1) + [[1.0] * 3]
    pq.write_table(pa.table({"user_id": pa.array(USER_IDS, pa.int64()), "embedding": rows}), path)


def nan_inf_parquet(path):
    vectors = np.ones((len(USER_IDS), 4))
    vectors[5, 2], vectors[9, 0] = np.nan, np.inf
    pq.write_table(pa.table({"user_id": pa.array(USER_IDS, pa.int64()), "embedding": vectors.tolist()}), path)


def good_npy(path):
    np.save(path, np.ones((len(USER_IDS), 4)))


def object_npy(shape):
    """An .npy of pickled objects whose unpickling would run a command."""

    def write(path):
        payload = _CodePayload(os.system, f"touch {path.parent / 'PWNED'}")
        np.save(path, np.full(shape, payload, dtype=object), allow_pickle=True)

    return write


def truncated(write, keep=0.5):
    def mutate(path):
        write(path)
        data = path.read_bytes()
        path.write_bytes(data[: int(len(data) * keep)])

    return mutate


CASES = [
    # -- sequential_data.txt
    ("seq/truncated-mid-line", p5(SEQ, cut_in_line(7, 4)), 7, ["no line ending", "looks truncated"]),
    # the cut leaves a long, valid-looking last sequence (its last id cut to a shorter id)
    ("seq/truncated-in-the-last-id", p5(SEQ, lambda p: p.write_bytes(p.read_bytes().rstrip(b"\n")[:-1])),
        120, ["no line ending", "looks truncated"]),
    ("seq/truncated-at-a-line-end", p5(SEQ, keep_lines(60)),
        None, ["datamaps.json lists 60 user(s) with no sequence"]),
    ("seq/utf-16", p5(SEQ, reencode("utf-16")), 1, ["not UTF-8 text", "UTF-16 byte-order mark"]),
    ("seq/utf-16-without-bom", p5(SEQ, reencode("utf-16-le")), 1, ["not UTF-8 text", "NUL byte", "UTF-16"]),
    ("seq/latin-1", p5(SEQ, latin1_on_line(3)), 3, ["not UTF-8 text"]),
    ("seq/utf-8-bom", p5(SEQ, lambda p: p.write_bytes(b"\xef\xbb\xbf" + p.read_bytes())),
        1, [r"'\ufeff1' is not a positive integer id"]),
    ("seq/negative-id", p5(SEQ, edit_line(2, lambda t: t[:2] + ["-5"] + t[3:])),
        2, ["'-5' is not a positive integer id"]),
    ("seq/non-integer-id", p5(SEQ, edit_line(2, lambda t: t[:2] + ["7.0"] + t[3:])),
        2, ["'7.0' is not a positive integer id"]),
    ("seq/superscript-digit", p5(SEQ, edit_line(2, lambda t: t[:2] + ["\u00b2"] + t[3:])),
        2, ["'\u00b2' is not a positive integer id"]),
    ("seq/other-script-digit", p5(SEQ, edit_line(2, lambda t: t[:2] + ["\u0663"] + t[3:])),
        2, ["'\u0663' is not a positive integer id"]),
    ("seq/item-beyond-the-maps", p5(SEQ, edit_line(4, lambda t: t + ["99999"])),
        "user 4", ["user 4: item 99999 is not in datamaps.json"]),
    ("seq/user-beyond-the-maps", p5(SEQ, edit_line(4, lambda t: ["99999"] + t[1:])),
        "user 99999", ["user 99999 is not in datamaps.json"]),
    ("seq/missing", p5(SEQ, lambda p: p.unlink()), None, ["sequence file does not exist"]),
    ("seq/empty", p5(SEQ, put(b"")), None, ["file is empty"]),
    ("seq/blank-line", p5(SEQ, lambda p: p.write_bytes(p.read_bytes().replace(b"\n", b"\n\n", 1))),
        2, ["empty line"]),
    ("seq/zero-id", p5(SEQ, edit_line(2, lambda t: t[:2] + ["0"] + t[3:])), 2, ["'0' is not a positive integer id"]),
    ("seq/duplicated-user", p5(SEQ, edit_line(3, lambda t: ["1"] + t[1:])),
        3, ["user 1 appears again (first on line 1)"]),
    ("seq/too-short-for-leave-two-out", p5(SEQ, edit_line(2, lambda t: t[:3])),
        2, ["user 2 has 2 item(s); leave-two-out", "at least 3"]),
    # -- negative_samples.txt
    ("neg/truncated-mid-line", p5(NEG, cut_in_line(5, 12)), 5, ["no line ending", "looks truncated"]),
    ("neg/truncated-at-a-line-end", p5(NEG, keep_lines(100)),
        None, ["20 user(s) have no negatives line (first: user 101)"]),
    ("neg/empty", p5(NEG, put(b"")), None, ["file is empty"]),
    ("neg/latin-1", p5(NEG, latin1_on_line(3)), 3, ["not UTF-8 text"]),
    ("neg/utf-16", p5(NEG, reencode("utf-16")), 1, ["not UTF-8 text", "UTF-16"]),
    ("neg/zero-id", p5(NEG, edit_line(2, lambda t: t[:1] + ["0"] + t[2:])),
        2, ["'0' is not a positive integer id"]),
    ("neg/non-integer-id", p5(NEG, edit_line(2, lambda t: t[:1] + ["item_3"] + t[2:])),
        2, ["'item_3' is not a positive integer id"]),
    ("neg/item-beyond-the-maps", p5(NEG, edit_line(2, lambda t: t[:1] + ["99999"] + t[2:])),
        2, ["user 2: negative item 99999 is not a known item id"]),
    ("neg/duplicated-user", p5(NEG, edit_line(3, lambda t: ["1"] + t[1:])),
        3, ["user 1 appears again (first on line 1)"]),
    ("neg/inside-the-history", p5(NEG, edit_line(1, lambda t: t[:1] + ["3"] + t[2:])),
        1, ["user 1: negative item 3 is in the user's own history"]),
    ("neg/too-few", p5(NEG, edit_line(1, lambda t: t[:-1])), 1, ["user 1 has 98 negatives, expected 99"]),
    ("neg/item-listed-twice", p5(NEG, edit_line(1, lambda t: t[:-1] + [t[1]])), 1, ["is listed twice"]),
    ("neg/user-without-sequence", p5(NEG, edit_line(1, lambda t: ["99999"] + t[1:])),
        1, ["user 99999 has no sequence in the sequence file"]),
    # -- datamaps.json
    ("maps/truncated-mid-json", p5(MAPS, cut_in_line(5, 10)), 5, ["invalid JSON", "Unterminated string"]),
    ("maps/empty", p5(MAPS, put(b"")), None, ["file is empty"]),
    ("maps/latin-1", p5(MAPS, replace(b'"user2id"', b'"user2id\xe9"')), 2, ["not UTF-8 text"]),
    ("maps/utf-16", p5(MAPS, reencode("utf-16")), 1, ["not UTF-8 text", "UTF-16 byte-order mark"]),
    ("maps/id-zero", p5(MAPS, edit_json(lambda m: (only_id_maps(m), m["id2user"].update({"0": "NEW"})))),
        "id2user['0']", ["id '0' is not a positive integer"]),
    ("maps/negative-id",
        p5(MAPS, edit_json(lambda m: (m.pop("id2item"), m["item2id"].update({"NEW": "-4"})))),
        "item2id['NEW']", ["id '-4' is not a positive integer"]),
    ("maps/non-integer-id",
        p5(MAPS, edit_json(lambda m: (only_id_maps(m), m["id2item"].update({"\u00b2": "NEW"})))),
        "id2item['\u00b2']", ["id '\u00b2' is not a positive integer"]),
    ("maps/duplicated-user-key", p5(MAPS, replace(b'"id2user": {', b'"id2user": {"1": "SOMEONE",')),
        "id2user['1']", ["'id2user' lists '1' twice"]),
    ("maps/duplicated-user-two-ids",
        p5(MAPS, edit_json(lambda m: (only_id_maps(m), m["id2user"].update({"2": m["id2user"]["1"]})))),
        "id2user", ["id2user maps both '1' and '2' to"]),
    ("maps/duplicated-map", p5(MAPS, replace(b'"id2item": {', b'"id2item": {}, "id2item": {')),
        "id2item", ["'id2item' is given twice"]),
    ("maps/mismatched-sizes", p5(MAPS, edit_json(lambda m: m["item2id"].update({"EXTRA": "99999"}))),
        "item2id", ["'item2id' has 161 entries but 'id2item' has 160"]),
    ("maps/mismatched", p5(MAPS, edit_json(mismatch_user_1)),
        "user2id['RAW_ONE']", ["mismatched maps: user2id['RAW_ONE'] = 2 but id2user['2'] = "]),
    ("maps/two-raw-ids-one-id",
        p5(MAPS, edit_json(lambda m: (m.pop("id2user"), m["user2id"].update({"NEW": "1"})))),
        "user2id", ["user2id maps both '", "' and 'NEW' to 1"]),
    # -- exp_splits.pkl
    ("pkl/truncated", p5(PKL, lambda p: p.write_bytes(p.read_bytes()[:-100])),
        None, ["not a readable pickle", "truncated"]),
    ("pkl/empty", p5(PKL, put(b"")), None, ["file is empty"]),
    ("pkl/json-text-not-a-pickle", p5(PKL, put(b'{"train": []}')),
        None, ["not a readable pickle", "invalid load key"]),
    ("pkl/python-2-latin-1-str", p5(PKL, put(b"(dp0\nS'train'\np1\n(lp2\nS'caf\\xe9'\np3\nas.")),
        None, ["not a readable pickle", "UnicodeDecodeError"]),
    ("pkl/unknown-user", p5(PKL, edit_pickle(lambda s: s["val"][2].update(reviewerID="NOBODY"))),
        "val[2]", ["reviewerID 'NOBODY' is not in datamaps.json"]),
    ("pkl/unknown-item", p5(PKL, edit_pickle(lambda s: s["train"][5].update(asin="B000NOSUCH"))),
        "train[5]", ["asin 'B000NOSUCH' is not in datamaps.json"]),
    ("pkl/unhashable-user", p5(PKL, edit_pickle(lambda s: s["test"][0].update(reviewerID=["A"]))),
        "test[0]", ["reviewerID ['A'] is not in datamaps.json"]),
    ("pkl/code-protocol-0", code_pickle(0),
        None, ["refused pickle: refers to", "system", "only plain containers and scalars"]),
    ("pkl/code-protocol-2", code_pickle(2), None, ["refused pickle: refers to", "system"]),
    ("pkl/code-protocol-5", code_pickle(5), None, ["refused pickle: refers to", "system"]),
    ("pkl/code-exec", code_pickle(4, exec, "open({marker!r}, 'w')"),
        None, ["refused pickle: refers to builtins.exec"]),
    ("pkl/missing-field", p5(PKL, edit_pickle(lambda s: s["val"][0].pop("explanation"))),
        "val[0]", ["missing field 'explanation'"]),
    ("pkl/not-a-mapping", p5(PKL, put(pickle.dumps([1, 2, 3]))), None, ["expected a mapping of splits, got list"]),
    ("pkl/unknown-split", p5(PKL, put(pickle.dumps({"train": [], "dev": [], "test": []}))),
        None, ["unknown split name 'dev'"]),
    ("pkl/arbitrary-class", p5(PKL, put(pickle.dumps({"train": collections.OrderedDict(a=1)}))),
        None, ["refused pickle: refers to collections.OrderedDict"]),
    # -- explanation.json (POD)
    ("json/truncated", p5(POD, lambda p: p.write_bytes(p.read_bytes()[:30])), 1, ["invalid JSON"]),
    ("json/empty", p5(POD, put(b"")), None, ["file is empty"]),
    ("json/latin-1",
        p5(POD, put(LATIN1_POD)),
        6, ["not UTF-8 text"]),
    ("json/utf-16", p5(POD, reencode("utf-16")), 1, ["not UTF-8 text", "UTF-16"]),
    ("json/unknown-user", p5(POD, edit_json(lambda s: s["train"].append(pod_record(user="99999")))),
        "train[1]", ["user 99999 is not a known user id"]),
    ("json/user-zero", p5(POD, edit_json(lambda s: s["val"].append(pod_record(user=0)))),
        "val[0]", ["user 0 is not a known user id"]),
    ("json/negative-user", p5(POD, edit_json(lambda s: s["test"].append(pod_record(user=-3)))),
        "test[0]", ["'user' -3 is not a positive integer id"]),
    ("json/non-integer-item", p5(POD, edit_json(lambda s: s["test"].append(pod_record(item="\u00b2")))),
        "test[0]", ["'item' '\u00b2' is not a positive integer id"]),
    ("json/float-item", p5(POD, edit_json(lambda s: s["test"].append(pod_record(item=2.5)))),
        "test[0]", ["'item' 2.5 is not a positive integer id"]),
    ("json/unknown-item", p5(POD, edit_json(lambda s: s["train"].append(pod_record(item=99999)))),
        "train[1]", ["item 99999 is not a known item id"]),
    ("json/duplicated-split", p5(POD, replace(b'"test": []', b'"test": [], "train": []')),
        None, ["split 'train' is given twice"]),
    ("json/duplicated-field", p5(POD, replace(b'"user": "1"', b'"user": "1", "user": "2"')),
        "train[0]", ["field 'user' is given twice"]),
    # -- raw Amazon reviews (.json / .json.gz)
    ("reviews/truncated-mid-line", reviews(lambda b: cut_bytes(b, 19, 20)),
        19, ["neither JSON nor a Python literal"]),
    ("reviews/truncated-gzip", reviews(lambda b: gz(b)[:-4], ".json.gz"),
        37, ["cannot be read to the end", "end-of-stream marker"]),
    # a gzip header, then a deflate block of the reserved type 11: corrupt whichever zlib reads it
    ("reviews/corrupt-gzip", reviews(lambda b: gz(b"")[:10] + b"\x07" + bytes(16), ".json.gz"),
        1, ["cannot be read to the end", "invalid block type"]),
    ("reviews/not-gzip", reviews(lambda b: b, ".json.gz"),
        1, ["cannot be read to the end", "Not a gzipped file"]),
    ("reviews/empty", reviews(lambda b: b""), None, ["file holds no reviews"]),
    ("reviews/empty-gzip", reviews(lambda b: gz(b""), ".json.gz"), None, ["file holds no reviews"]),
    ("reviews/latin-1",
        reviews(lambda b: b + '{"reviewerID": "Ren\xe9", "asin": "I", "unixReviewTime": 1}'.encode("latin-1")),
        37, ["not UTF-8 text"]),
    ("reviews/utf-16", reviews(lambda b: b.decode().encode("utf-16")), 1, ["not UTF-8 text", "UTF-16"]),
    ("reviews/utf-16-gzip", reviews(lambda b: gz(b.decode().encode("utf-16")), ".json.gz"),
        1, ["not UTF-8 text", "UTF-16"]),
    ("reviews/code-line", reviews(lambda b: b"__import__('os').system('touch PWNED')\n" + b),
        1, ["neither JSON nor a Python literal"]),
    ("reviews/not-an-object", reviews(lambda b: b + b"[1, 2]\n"), 37, ["expected a review object, got list"]),
    ("reviews/non-integer-time",
        reviews(lambda b: b + b'{"reviewerID": "U1", "asin": "I1", "unixReviewTime": "2014-01-01"}\n'),
        37, ["unixReviewTime '2014-01-01' is not an integer"]),
    ("reviews/missing-field",
        reviews(lambda b: b + b'{"reviewerID": "U1", "asin": "I1"}\n'), 37, ["review lacks 'unixReviewTime'"]),
    ("reviews/nothing-survives-the-core", reviews(lambda b: b.split(b"\n", 2)[0] + b"\n"),
        None, ["no user and item survive the 5-core filter"]),
    # -- raw Amazon 2023 reviews (.jsonl / .jsonl.gz): the release is told by the first review's keys
    ("reviews/2023-missing-parent-asin", reviews_2023(lambda b: b + b'{"user_id": "U1", "timestamp": 5}\n'),
        37, ["review lacks 'parent_asin' (a 2023 review, as the first)"]),
    ("reviews/2023-float-timestamp",
        reviews_2023(lambda b: b + b'{"user_id": "U1", "parent_asin": "I1", "timestamp": 1.5e12}\n'),
        37, ["timestamp 1500000000000.0 is not an integer (milliseconds)"]),
    ("reviews/2023-truncated-gzip", reviews_2023(lambda b: gz(b)[:-4], ".jsonl.gz"),
        37, ["cannot be read to the end"]),
    ("reviews/neither-release", reviews_2023(lambda b: b'{"customer": "U1", "product": "I1"}\n' + b),
        1, ["neither release's keys", "2014: reviewerID, asin, unixReviewTime", "2023: user_id, parent_asin"]),
    ("reviews/2023-user-with-two-items",
        reviews_2023(lambda b: b + b'{"user_id": "SHORT", "parent_asin": "I1", "timestamp": 7}\n'
                                   b'{"user_id": "SHORT", "parent_asin": "I2", "timestamp": 8}\n', core=1),
        37, ["user 'SHORT' has 2 item(s) (line 37, line 38); leave-two-out needs at least 3", "set k_core: 3"]),
    # -- your own interactions (source: interactions; .csv, .tsv, .gz, .parquet)
    ("own/missing-column", own(with_rows(replace_line={1: "user,item,time"})),
        1, ["no column 'timestamp'; columns found: 'user', 'item', 'time'"]),
    ("own/semicolons", own(lambda h, r: [x.replace(",", ";") for x in with_rows()(h, r)]), 1,
     ["no column 'user'", "one column holding ';'", "read as comma-separated", "with tabs as .tsv"]),
    ("own/missing-renamed-column", own(with_rows(), spec=InteractionsSpec(columns={"user": "customer"})),
        1, ["no column 'customer' (user); columns found: 'user', 'item', 'timestamp', 'rating', 'text'"]),
    ("own/missing-named-optional-column", own(with_rows(), spec=InteractionsSpec(columns={"rating": "stars"})),
        1, ["no column 'stars' (rating)"]),
    ("own/missing-column-parquet", own(with_rows(replace_line={1: "user,product,timestamp,rating,text"}),
        ".parquet"), None, ["no column 'item'; columns found: 'user', 'product'"]),
    ("own/unparsable-timestamp", own(with_rows(replace_line={5: "u0,i3,yesterday,5,ok"})),
        5, ["timestamp 'yesterday' ('timestamp' column) is neither unix seconds nor an ISO-8601 date"]),
    ("own/unparsable-timestamp-tsv", own(lambda h, r: [x.replace(",", "\t") for x in with_rows(
        replace_line={9: "u1,i3,31/12/2014,5,ok"})(h, r)], ".tsv.gz"),
        9, ["timestamp '31/12/2014'", "neither unix seconds nor an ISO-8601 date"]),
    ("own/unparsable-timestamp-parquet", own(with_rows(replace_line={4: "u0,i2,2014-13-01,5,ok"}), ".parquet"),
        "row 3", ["timestamp '2014-13-01'", "neither unix seconds nor an ISO-8601 date"]),
    ("own/duplicate-rows", own(with_rows(OWN_ROWS[1])), 18, ["duplicate row: user 'u0', item 'i1'", "as on line 3",
        "duplicates: drop"]),
    ("own/duplicate-rows-parquet", own(with_rows(OWN_ROWS[1]), ".parquet"),
        "row 17", ["duplicate row: user 'u0', item 'i1'", "as on row 2"]),
    ("own/user-with-two-items", own(with_rows("dave,i0,5,1,x", "dave,i1,6,1,y")),
        18, ["user 'dave' has 2 item(s) (line 18, line 19); leave-two-out needs at least 3", "set k_core: 3"]),
    # three rows, but the same item twice: two items once the repeat is dropped
    ("own/user-with-a-repeat", own(with_rows("dave,i0,5,1,x", "dave,i1,6,1,y", "dave,i0,7,1,z")),
        18, ["user 'dave' has 2 item(s)", "leave-two-out needs at least 3"]),
    ("own/user-with-two-items-parquet", own(with_rows("dave,i0,5,1,x", "dave,i1,6,1,y"), ".parquet"),
        "row 17", ["user 'dave' has 2 item(s) (row 17, row 18)"]),
    ("own/nothing-survives-the-core", own(with_rows(), k=5), None, ["no user and item survive the 5-core filter"]),
    ("own/empty-user", own(with_rows(replace_line={3: ",i1,1010,5,ok"})), 3, ["empty user ('user' column)"]),
    ("own/bad-rating", own(with_rows(replace_line={3: "u0,i1,1010,five,ok"})),
        3, ["rating 'five' ('rating' column) is not a number"]),
    ("own/wrong-field-count", own(with_rows(replace_line={6: "u1,i0,2000,5,ok,extra"})),
        6, ["6 field(s), the header has 5"]),
    ("own/unclosed-quote", own(with_rows('u9,i9,5,1,"never closed')), 18, ["not valid CSV"]),
    ("own/empty", own(lambda h, r: []), None, ["file is empty"]),
    ("own/header-only", own(lambda h, r: [h]), None, ["file holds no interactions"]),
    ("own/latin-1", own(with_rows(), damage=lambda b: b + "caf\xe9,i0,1,1,x\n".encode("latin-1")),
        18, ["not UTF-8 text"]),
    ("own/utf-16", own(with_rows(), damage=lambda b: b.decode().encode("utf-16")), 1, ["not UTF-8 text", "UTF-16"]),
    ("own/truncated-gzip", own(with_rows(), ".csv.gz", damage=lambda b: b[:-4]),
        18, ["cannot be read to the end", "end-of-stream marker"]),
    ("own/unknown-suffix", own(with_rows(), ".xlsx"), None, ["unknown interactions format", ".parquet"]),
    ("own/not-parquet", own(with_rows(), ".parquet", damage=lambda b: b"user,item,timestamp\n"),
        None, ["cannot read as Parquet"]),
    ("own/truncated-parquet", own(with_rows(), ".parquet", damage=lambda b: b[: len(b) // 2]),
        None, ["cannot read as Parquet"]),
    ("own/text-asked-but-absent", own(lambda h, r: ["user,item,timestamp", *(x.rsplit(",", 2)[0] for x in r)],
        explanations_from_text=True), 1, ["explanations_from_text is true but there is no column 'text'"]),
    # -- user embeddings (the file source: .parquet, or .npy + ids)
    ("emb/parquet-truncated", embeddings("e.parquet", truncated(good_parquet)),
        None, ["cannot read as Parquet"]),
    ("emb/parquet-empty", embeddings("e.parquet", put(b"")), None, ["cannot read as Parquet"]),
    ("emb/parquet-utf-16-csv", embeddings("e.parquet", put("user_id,d0\n1,0.5\n".encode("utf-16"))),
        None, ["cannot read as Parquet"]),
    ("emb/parquet-float-ids",
        embeddings("e.parquet", lambda p: good_parquet(p, ids=pa.array(USER_IDS + 0.5))),
        None, ["user_id must be integers, got double"]),
    ("emb/parquet-ids-out-of-range", embeddings("e.parquet", lambda p: good_parquet(p, ids=USER_IDS - 1)),
        None, ["1 of the dataset's 10 users have no vector (e.g. 10)"]),
    ("emb/parquet-duplicated-user",
        embeddings("e.parquet", lambda p: good_parquet(p, ids=np.r_[USER_IDS, 3])),
        None, ["1 user ids occur more than once (e.g. 3)"]),
    ("emb/npy-truncated", embeddings("e.npy", truncated(good_npy), ids="ids.npy"),
        None, ["cannot read as .npy"]),
    ("emb/npy-empty", embeddings("e.npy", put(b""), ids="ids.npy"), None, ["cannot read as .npy"]),
    ("emb/npy-carrying-a-pickle", embeddings("e.npy", object_npy((10, 4)), ids="ids.npy"),
        None, ["cannot read as .npy", "allow_pickle=False"]),
    ("emb/ids-npy-truncated",
        embeddings("e.npy", good_npy, ids="ids.npy", write_ids=truncated(lambda p: np.save(p, USER_IDS))),
        None, ["cannot read as .npy"]),
    ("emb/ids-npy-empty", embeddings("e.npy", good_npy, ids="ids.npy", write_ids=put(b"")),
        None, ["cannot read as .npy"]),
    ("emb/ids-npy-carrying-a-pickle", embeddings("e.npy", good_npy, ids="ids.npy", write_ids=object_npy(10)),
        None, ["cannot read as .npy", "allow_pickle=False"]),
    ("emb/ids-npy-float",
        embeddings("e.npy", good_npy, ids="ids.npy", write_ids=lambda p: np.save(p, USER_IDS + 0.5)),
        None, ["ids must be a 1-d array of integers, got float64"]),
    ("emb/ids-text-latin-1", embeddings("e.npy", good_npy, ids="ids.txt", write_ids=put(b"1\n2\n3\xe9\n")),
        3, ["not UTF-8 text"]),
    ("emb/ids-text-utf-16",
        embeddings("e.npy", good_npy, ids="ids.txt", write_ids=put("1\n2\n3\n".encode("utf-16"))),
        1, ["not UTF-8 text", "UTF-16"]),
    ("emb/ids-text-non-integer", embeddings("e.npy", good_npy, ids="ids.txt", write_ids=put(b"1\n2\n3.0\n")),
        3, ["'3.0' is not an integer user id"]),
    ("emb/ids-text-superscript-digit",
        embeddings("e.npy", good_npy, ids="ids.txt", write_ids=put("1\n\u00b2\n".encode())),
        2, ["'\u00b2' is not an integer user id"]),
    ("emb/ids-text-empty", embeddings("e.npy", good_npy, ids="ids.txt", write_ids=put(b"")),
        None, ["0 ids for 10 rows of"]),
    ("emb/parquet-wrong-dimension", embeddings("e.parquet", lambda p: good_parquet(p, dim=8)),
        None, ["vectors have 8 dimensions, the configuration expects 4"]),
    ("emb/parquet-ragged", embeddings("e.parquet", ragged_parquet),
        "user_id 10", ["embedding has 3 dimensions, the first row has 4"]),
    ("emb/parquet-three-users-missing", embeddings("e.parquet", lambda p: good_parquet(p, ids=USER_IDS[3:])),
        None, ["3 of the dataset's 10 users have no vector (e.g. 1, 2, 3)"]),
    ("emb/parquet-nan-and-inf", embeddings("e.parquet", nan_inf_parquet),
        "user_id 6", ["2 users have NaN or infinite values (first: NaN)"]),
    ("emb/npy-not-a-matrix", embeddings("e.npy", lambda p: np.save(p, np.ones(len(USER_IDS))), ids="ids.npy"),
        None, ["expected an (N, d) matrix"]),
    ("emb/npy-without-ids-file", embeddings("e.npy", good_npy), None, ["a .npy embedding matrix needs an ids file"]),
    ("emb/ids-npy-too-few",
        embeddings("e.npy", good_npy, ids="ids.npy", write_ids=lambda p: np.save(p, USER_IDS[:-1])),
        None, ["9 ids for 10 rows of"]),
]


@pytest.mark.parametrize("build, where, fragments", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input(build, where, fragments, demo_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a payload that ran would leave tmp_path/PWNED
    path, read = build(demo_dir, tmp_path)
    with pytest.raises(InputError) as info:
        read()
    err = info.value
    assert type(err) is InputError
    assert (err.path, err.where) == (str(path), where), str(err)
    place = "" if where is None else f", line {where}" if isinstance(where, int) else f", record {where}"
    assert str(err).startswith(f"{path}{place}: "), str(err)
    for fragment in fragments:
        assert fragment in err.problem, f"{fragment!r} not in {err.problem!r}"
    assert not (tmp_path / "PWNED").exists(), "a payload in the input ran"


@pytest.mark.parametrize(
    "build, unsafe_load",
    [
        (code_pickle(2), lambda path: pickle.loads(path.read_bytes())),
        (code_pickle(4, exec, "open({marker!r}, 'w')"), lambda path: pickle.loads(path.read_bytes())),
        (embeddings("e.npy", object_npy(3), ids="ids.npy"), lambda path: np.load(path, allow_pickle=True)),
    ],
)
def test_the_code_payloads_would_run_if_loaded_unsafely(build, unsafe_load, demo_dir, tmp_path):
    """The control for the code-carrying cases: loaded the unsafe way, the payload does run."""
    path, _ = build(demo_dir, tmp_path)
    unsafe_load(path)
    assert (tmp_path / "PWNED").exists()


def test_the_corpus_covers_every_format():
    formats = {name.split("/")[0] for name, *_ in CASES}
    assert formats == {"seq", "neg", "maps", "pkl", "json", "reviews", "own", "emb"}
    assert len({name for name, *_ in CASES}) == len(CASES)


# ---- a failure on bad input leaves nothing half-written --------------------------------------


def preprocess_into(out_dir, demo_dir):
    outputs = {name: str(out_dir / f"{name}.parquet") for name in TABLE_NAMES}
    outputs["stats"] = str(out_dir / "stats.json")
    out_dir.mkdir(parents=True)  # as Snakemake does before a job
    preprocess_dataset("demo", {"source": "p5"}, discover_p5_files(demo_dir), outputs)
    return outputs


def test_failed_preprocess_leaves_no_output_and_no_temporary_file(demo_dir, tmp_path):
    written = preprocess_into(tmp_path / "good", demo_dir)  # the same call on good input writes all
    assert sorted(p.name for p in (tmp_path / "good").iterdir()) == sorted(Path(p).name for p in written.values())
    first_item_of_user_3 = str(read_sequences(demo_dir / SEQ)[3][0])
    edit_line(3, lambda t: t[:1] + [first_item_of_user_3] + t[2:])(demo_dir / NEG)
    with pytest.raises(InputError, match=r"negative_samples.txt, line 3: user 3: negative item \d+ is in the user's own"):
        preprocess_into(tmp_path / "bad", demo_dir)
    assert list((tmp_path / "bad").iterdir()) == []


def test_atomic_path_leaves_no_temporary_file_and_keeps_the_old_output(tmp_path):
    target = tmp_path / "table.parquet"
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_bytes(b"half a tab")
        raise RuntimeError("killed mid-write")
    assert list(tmp_path.iterdir()) == []
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_bytes(b"new, but only half")
        raise RuntimeError("killed mid-write")
    assert list(tmp_path.iterdir()) == [target] and target.read_bytes() == b"old"


@pytest.mark.parametrize("umask,mode", [(0o022, 0o644), (0o027, 0o640), (0o077, 0o600)])
def test_outputs_follow_the_umask(tmp_path, umask, mode):
    """Written atomically, yet readable as any file the user writes (mkstemp alone makes 0600)."""
    import pyarrow as pa

    from peapod.io import write_json, write_parquet, write_text

    previous = os.umask(umask)
    try:
        write_json({"a": 1}, tmp_path / "run.json")
        write_text("x\n", tmp_path / "table.md")
        write_parquet(pa.table({"a": [1]}), tmp_path / "nested" / "metrics.parquet")
        write_text("y\n", tmp_path / "table.md")  # replacing an output keeps the mode
    finally:
        os.umask(previous)
    for path in (tmp_path / "run.json", tmp_path / "table.md", tmp_path / "nested" / "metrics.parquet"):
        assert path.stat().st_mode & 0o777 == mode, (path.name, oct(path.stat().st_mode & 0o777))


def test_catalogue_too_small_for_the_negatives_names_the_sequence_file(tmp_path):
    """Without a negatives file they are sampled; a catalogue too small for them is the input's
    fault, reported against the sequence file and the first user that cannot get them."""
    source = tmp_path / "src"
    seq = write_lines(source / SEQ, ["1 1 2 3 4", "2 2 3 4 5", "3 1 3 5 6"])
    out = tmp_path / "out"
    out.mkdir()
    outputs = {name: str(out / f"{name}.parquet") for name in TABLE_NAMES}
    outputs["stats"] = str(out / "stats.json")
    with pytest.raises(InputError) as info:
        preprocess_dataset("tiny", {"source": "p5"}, discover_p5_files(source), outputs, n_negatives=5)
    err = info.value
    assert (err.path, err.where) == (str(seq), "user 1")
    assert "only 2 catalogue item(s) outside their history, too few to draw 5 negatives" in err.problem
    assert list(out.iterdir()) == []
