"""A recommendation request's name (peapod.evaluation.recommend_request): the label, or a hash of
what is asked, files by content; a label used again for something else is refused."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from peapod.config import with_defaults
from peapod.evaluation import recommend_request as rr
from peapod.io import file_sha256, write_json
from tests.workflow_helpers import ONE_TINY_POD_RUN, dry_run_outputs, request_dirs, run, workflow_copy

DEFAULTS = with_defaults({"datasets": {"demo": {"source": "demo"}}})


def ask(dataset="demo", **recommend):
    return rr.asked({**DEFAULTS["recommend"], **recommend}, DEFAULTS["evaluation"], dataset)


def name(label=None, **recommend):
    return rr.request_name(label, ask(**recommend))


def test_the_name_changes_with_what_changes_the_files_and_only_with_that():
    plain = name()
    assert len(plain) == rr.HASH_CHARS and plain == name()  # the same request: the same name
    assert plain == name(batch_size=8, variants=["pod"], seeds=[3])  # the files do not change
    others = [name(top_k=5), name(beams=30), name(history="test"),
              name(exclude_history=False)]
    assert len({plain, *others}) == 5


def test_users_and_pairs_files_count_by_content_not_by_path(tmp_path):
    (tmp_path / "a.txt").write_text("u1\nu2\n")
    (tmp_path / "b.txt").write_text("u1\nu2\n")
    (tmp_path / "c.txt").write_text("u1\n")
    a, b, c = (name(users=str(tmp_path / f"{n}.txt")) for n in "abc")
    assert a == b and a != c and a != name()
    (tmp_path / "a.txt").write_text("u1\n")  # the same file, edited: another request
    assert name(users=str(tmp_path / "a.txt")) == c
    (tmp_path / "p.csv").write_text("user,item\nu1,i1\n")
    pairs = str(tmp_path / "p.csv")
    with_pairs = name(pairs=pairs)
    assert with_pairs != name()
    # With pairs, the explanation search's settings change the explanations too.
    evaluation = {**DEFAULTS["evaluation"], "explanation_beams": 3}
    assert rr.request_name(None, rr.asked({**DEFAULTS["recommend"], "pairs": pairs}, evaluation, "demo")) != with_pairs
    assert rr.request_name(None, rr.asked(DEFAULTS["recommend"], evaluation, "demo")) == name()


def test_an_edited_pairs_file_is_a_new_request(tmp_path):
    """Explanations are generated for the pairs file's rows: editing it must not reuse the outputs
    of the earlier request (the same content at another path may)."""
    pairs = tmp_path / "pairs.csv"
    pairs.write_text("user,item\nu1,i1\n")
    before = name(pairs=str(pairs))
    pairs.write_text("user,item\nu1,i2\n")
    edited = name(pairs=str(pairs))
    assert edited != before
    (tmp_path / "copy.csv").write_text("user,item\nu1,i2\n")
    assert name(pairs=str(tmp_path / "copy.csv")) == edited


def test_missing_files_at_different_paths_are_different_requests(tmp_path):
    for key in ("users", "pairs"):
        a, b = name(**{key: str(tmp_path / "a.txt")}), name(**{key: str(tmp_path / "b.txt")})
        assert a != b and name(**{key: str(tmp_path / "a.txt")}) == a, key


def test_dataset_in_a_file_path_is_filled_and_a_missing_file_is_named(tmp_path):
    (tmp_path / "demo.txt").write_text("u1\n")
    request = ask(users=str(tmp_path / "{dataset}.txt"))
    assert request["users"]["path"] == str(tmp_path / "demo.txt") and len(request["users"]["sha256"]) == 64
    missing = ask("other", users=str(tmp_path / "{dataset}.txt"))
    assert missing["users"] == {"path": str(tmp_path / "other.txt"), "sha256": None}
    assert rr.request_name(None, missing) != name()


def test_a_label_is_the_name_and_a_label_used_for_another_request_is_refused(tmp_path):
    request = ask(top_k=5)
    assert rr.request_name("mine", request) == "mine"
    for bad in ("../up", "a/b", ".hidden", ""):
        with pytest.raises(ValueError, match="recommend.label"):
            rr.request_name(bad, request)
    record = tmp_path / "mine" / "request.json"
    assert rr.conflict(record, request) is None  # nothing there yet
    write_json(rr.stamped(rr.request_record("mine", "mine", "demo", request, ["pod"], [0])), record)
    assert rr.conflict(record, request) is None  # the same request again
    why = rr.conflict(record, ask(top_k=6))
    assert why and str(record) in why and "'mine'" in why and "another label" in why


def test_the_record_says_what_was_asked_and_checks_the_files_it_hashed(tmp_path):
    users = tmp_path / "users.txt"
    users.write_text("u1\n")
    request = ask(users=str(users))
    record = rr.request_record(rr.request_name(None, request), None, "demo", request, ["peapod"], [0, 1])
    stamped = json.loads(json.dumps(rr.stamped(record)))
    assert stamped["request"] == record["request"] and stamped["label"] is None and stamped["written"]
    assert stamped["settings"] == {"top_k": 10, "beams": 20, "history": "all", "exclude_history": True}
    assert stamped["users"]["path"] == str(users) and stamped["pairs"] is None
    assert stamped["variants"] == ["peapod"] and stamped["seeds"] == [0, 1]
    assert stamped["fingerprint"].startswith(stamped["request"])
    rr.check_files(record)
    users.write_text("u2\n")
    with pytest.raises(ValueError, match="changed while the workflow ran"):
        rr.check_files(record)


# ---- through the workflow ----------------------------------------------------------------------------
def test_each_request_writes_under_its_own_name_and_another_name_is_refused(tmp_path):
    """A label names the directory; other settings another hash; a path under a name the config
    does not give, or a label already recorded for a different request, stops before any job."""
    work = workflow_copy(tmp_path)
    ask = ["recommendations", "--configfile", "config/config.yaml", "ask.yaml"]

    def planned(overlay: str) -> str:
        (work / "ask.yaml").write_text(overlay)
        [record] = dry_run_outputs(work, ask, cores=2)["record_recommend_request"]
        return Path(record).parent.name

    default, top5 = planned("recommend: {}\n"), planned("recommend: {top_k: 5}\n")
    assert default != top5 and planned("recommend: {top_k: 5, batch_size: 4}\n") == top5
    assert planned("recommend: {label: mine, top_k: 5}\n") == "mine"
    # The config asks top_k 5 (as "mine"); the default request's path is not what it asks.
    stray = run(["-n", f"results/demo/recommendations/{default}/peapod/seed0/next_items.parquet", *ask[1:]], work,
                check=False)
    assert stray.returncode != 0
    assert f"results/demo/recommendations/{default}/ is not the configured request, which recommend: names 'mine'" \
        in stray.stdout + stray.stderr
    # "mine" recorded for top_k 5 (as its job writes it, last, once its lists exist): top_k 6 under
    # the same label is refused when the workflow loads, with no traceback.
    [planned_record] = dry_run_outputs(work, ask, cores=2)["record_recommend_request"]
    path = work / planned_record
    top5 = rr.asked({**DEFAULTS["recommend"], "top_k": 5}, DEFAULTS["evaluation"], "demo")
    write_json(rr.stamped(rr.request_record("mine", "mine", "demo", top5, ["peapod"], [0])), path)
    record = json.loads(path.read_text())
    (work / "ask.yaml").write_text("recommend: {label: mine, top_k: 6}\n")
    reused = run(["-n", *ask], work, check=False)
    out = reused.stdout + reused.stderr
    assert reused.returncode != 0 and "holds an earlier request" in out and "Traceback" not in out, out[-2000:]
    assert json.loads(path.read_text()) == record


# A small demo with one run (POD: no CF stage), trained in seconds, for real recommendation jobs.
ONE_RUN = """
datasets:
  demo:
    source: demo
    demo: {n_users: 40, n_items: 40, n_groups: 2, min_length: 5, max_length: 8, explanation_fraction: 0.3}
""" + ONE_TINY_POD_RUN + """
devices: {threads_per_job: 1, gpus_per_job: 0}
"""


def files_of(directory: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under ``directory``: its bytes and modification time."""
    return {str(p.relative_to(directory)): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(directory.rglob("*")) if p.is_file()}


ASK = ["recommendations", "--cores", "2", "--configfile", "one.yaml", "ask.yaml"]


def ask_for(work: Path, overlay: str, check: bool = True):
    (work / "ask.yaml").write_text(overlay)
    return run(ASK, work, check=check)


@pytest.fixture(scope="module")
def everyone(tmp_path_factory) -> tuple[Path, Path, list[str]]:
    """A trained one-run workflow with one finished request (every user): the workflow, that
    request's directory, and the dataset's original user ids."""
    work = workflow_copy(tmp_path_factory.mktemp("requests"))
    (work / "one.yaml").write_text(ONE_RUN)
    ask_for(work, "recommend: {}\n")  # trains the run, then recommends to every user
    [request] = request_dirs(work)
    users = pd.read_parquet(work / "results/demo/data/users.parquet")["raw_id"].tolist()
    lists = [p.stat().st_mtime_ns for p in request.rglob("next_items.*")]
    assert lists and (request / "request.json").stat().st_mtime_ns >= max(lists)  # written last
    assert len(pd.read_parquet(request / "pod/seed0/next_items.parquet")) == 10 * len(users)
    return work, request, users


# Both share the one trained run (and so one pytest-xdist worker); neither needs the other's request.
@pytest.mark.slow
@pytest.mark.xdist_group("recommend_requests")
def test_a_second_request_is_kept_beside_the_first(everyone):
    """Two users with top_k 3 after every user: each under its own name, both whole; the first
    request asked again is found done (its name is the same on every parse)."""
    work, first, users = everyone
    (work / "two.txt").write_text(f"{users[3]}\n{users[1]}\n")
    ask_for(work, "recommend: {users: two.txt, top_k: 3}\n")
    [two] = [d for d in request_dirs(work) if d != first]
    assert pd.read_csv(two / "pod/seed0/next_items.csv", dtype={"user": str})["user"].tolist() == \
        [users[3]] * 3 + [users[1]] * 3
    record = json.loads((two / "request.json").read_text())
    assert record["users"] == {"path": "two.txt", "sha256": file_sha256(work / "two.txt")}
    assert len(pd.read_parquet(first / "pod/seed0/next_items.parquet")) == 10 * len(users)  # still every user
    (work / "ask.yaml").write_text("recommend: {}\n")
    assert "Nothing to be done" in run(["-n", *ASK], work).stdout


@pytest.mark.slow
@pytest.mark.xdist_group("recommend_requests")
def test_a_failed_request_removes_no_earlier_file(everyone):
    """A users file with an unknown user: the workflow stops when it loads (the data stage's users
    are known), naming it, before any job; every file of the requests before it stays as it was
    (bytes and times), and the failed request leaves no request.json."""
    work, first, users = everyone
    kept = files_of(work / "results/demo/recommendations")
    assert "pod/seed0/next_items.parquet" in {k.split("/", 1)[1] for k in kept}
    (work / "bad.txt").write_text(f"{users[0]}\nnobody\n")
    failed = ask_for(work, "recommend: {users: bad.txt}\n", check=False)
    assert failed.returncode != 0
    assert "bad.txt, line 2: user 'nobody' is not in the dataset" in failed.stdout + failed.stderr
    assert "Stopped before any job ran" in failed.stdout + failed.stderr
    assert files_of(work / "results/demo/recommendations") == kept
