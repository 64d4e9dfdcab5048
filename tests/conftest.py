"""Shared fixtures: small datasets the tests make themselves (all through tests.helpers.make_demo)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import GROUPED_DEMO, SMALL_DEMO, make_demo

pytest_plugins = ("tests.running_tests",)  # names the tests a stopped run was in (.ci/run)


@pytest.fixture
def demo_dir(tmp_path: Path) -> Path:
    """A small demo dataset in P5 format (all four files plus the planted truth); tests may break it."""
    return make_demo(tmp_path / "demo", SMALL_DEMO).raw


@pytest.fixture(scope="session")
def demo_tables(tmp_path_factory) -> dict:
    """Paths of the grouped demo's tables (by name), plus ``truth`` (the planted structure)."""
    root = tmp_path_factory.mktemp("demo")
    demo = make_demo(root, GROUPED_DEMO, parquet=True)
    return demo.paths | {"truth": demo.truth, "root": root}


# The order of the long tests, for pytest-xdist's 2 workers (a worker takes the next test in this
# order whenever it has two or fewer left). Measured under CI (2026-12-02, generator jobs on one
# thread each): demo 16 min, shrunk paper config 15, SLURM module 8 (mostly waiting on the
# cluster), killed and resumed workflow 3. So: one worker takes the SLURM module, then the killed
# workflow, then the paper config; the other the demo (beside the SLURM module, which leaves it
# the CPU), then a short test, then the rest.
LONGEST_FIRST = (
    "test_every_rule_runs_through_the_slurm_profile",
    "test_cancelled_training_job_is_resubmitted_and_resumes",
    "test_demo_runs_end_to_end",
    "test_killed_workflow_resumes_and_two_runs_agree",
    "test_gpu_suite_smoke_prints_every_figure",
    "test_shrunk_paper_config_runs_every_job",
)


def pytest_collection_modifyitems(config, items):
    def order(item):
        if item.originalname in LONGEST_FIRST:
            return 0, LONGEST_FIRST.index(item.originalname)
        return (1 if item.get_closest_marker("slow") else 2), 0

    items.sort(key=order)  # stable: otherwise the collection order


@pytest.fixture(autouse=True)
def _test_limit(request):
    """Tell the helpers that wait on subprocesses (tests/workflow_helpers.py) this test's limit: its
    @pytest.mark.timeout, else the run's --timeout."""
    from tests import workflow_helpers

    marker = request.node.get_closest_marker("timeout")
    limit = marker.args[0] if marker and marker.args else marker.kwargs.get("timeout") if marker else None
    workflow_helpers.TEST_LIMIT_S = float(limit or request.config.getoption("timeout", None) or 600)
    yield


@pytest.fixture(scope="session", autouse=True)
def _xdist_grouping_works(request):
    """Fail loudly, before any cluster starts, where pytest-xdist's grouping silently does nothing (it
    does under pytest 9.2 with xdist 3.8: the two SLURM tests then ran on two workers at once)."""
    if not getattr(request.config.option, "loadgroup", False):  # only an xdist worker under --dist loadgroup
        return
    ungrouped = [item.nodeid for item in request.session.items
                 if item.get_closest_marker("xdist_group") and "@" not in item.nodeid]
    if ungrouped:
        pytest.fail(f"pytest-xdist ignored the xdist_group of {ungrouped[0]}: this pytest and pytest-xdist "
                    "do not work together; install the versions in envs/constraints.txt", pytrace=False)

