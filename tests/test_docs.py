"""The documentation stays true: every relative link resolves, and the configuration page is the
one generated from the config schema, naming every key (docs/development.md, "Documentation")."""

from __future__ import annotations

import importlib.util
import re
from collections import Counter
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / "workflow" / "schemas" / "config.schema.yaml"
CONFIG_PAGE = ROOT / "docs" / "configuration.md"

FENCE = re.compile(r"^\s*(```|~~~)")
CODE_SPAN = re.compile(r"(`+)(.+?)\1")
LINK = re.compile(r"!?\[(?:[^\]\[]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)


def markdown_files() -> list[Path]:
    """The README, every page under docs/, and the READMEs the pages link to."""
    files = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    files += [p for p in (ROOT / "resources" / "README.md", ROOT / "benchmarks" / "README.md") if p.exists()]
    return files


def prose_lines(text: str):
    """(line number, line) outside fenced code blocks."""
    fenced = False
    for number, line in enumerate(text.splitlines(), 1):
        if FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            yield number, line


def github_slug(heading: str) -> str:
    """GitHub's anchor of a heading: the rendered text (code spans, links and emphasis reduced to
    their text), lower-cased, punctuation dropped, spaces to hyphens."""
    text = CODE_SPAN.sub(lambda m: m.group(2), heading)
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"<[^>]+>", "", text)
    text = re.sub(r"(\*\*|__|\*|_(?=\W)|(?<=\W)_)", "", text)
    text = text.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every heading anchor of a Markdown file, duplicates numbered as GitHub does (-1, -2, ...)."""
    seen: Counter[str] = Counter()
    result = set()
    for _, line in prose_lines(path.read_text(encoding="utf-8")):
        match = HEADING.match(line)
        if not match:
            continue
        slug = github_slug(match.group(2))
        result.add(f"{slug}-{seen[slug]}" if seen[slug] else slug)
        seen[slug] += 1
    return result


def relative_links(path: Path):
    """(line number, target) of every link outside code, not counting URLs with a scheme."""
    for number, line in prose_lines(path.read_text(encoding="utf-8")):
        for match in LINK.finditer(CODE_SPAN.sub("", line)):
            target = match.group(1)
            if not SCHEME.match(target):
                yield number, target


def broken_links(path: Path) -> list[str]:
    problems = []
    for number, target in relative_links(path):
        file_part, _, anchor = target.partition("#")
        resolved = (path.parent / file_part).resolve() if file_part else path
        where = f"{path.relative_to(ROOT)}:{number}: {target}"
        if not resolved.exists():
            problems.append(f"{where}: no file {file_part}")
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            problems.append(f"{where}: no heading #{anchor} in {resolved.relative_to(ROOT)}")
    return problems


def test_slugs_follow_github():
    assert github_slug("Fetching them (`download: true`)") == "fetching-them-download-true"
    assert github_slug("Aggregation results (when the config defines `variants:`)") == (
        "aggregation-results-when-the-config-defines-variants")
    assert github_slug("A killed run: `--unlock` and `--rerun-incomplete`") == (
        "a-killed-run---unlock-and---rerun-incomplete")
    assert github_slug("Data: the P5 files") == "data-the-p5-files"


@pytest.mark.parametrize("path", markdown_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(path):
    problems = broken_links(path)
    assert not problems, "broken links:\n" + "\n".join(problems)


def test_link_check_finds_a_broken_link(tmp_path, monkeypatch):
    """The check itself: a missing file and a missing heading are both reported."""
    monkeypatch.setattr(f"{__name__}.ROOT", tmp_path)
    (tmp_path / "target.md").write_text("# Title\n\n## A section\n")
    page = tmp_path / "page.md"
    page.write_text("[ok](target.md#a-section) [gone](missing.md) [bad](target.md#no-such)\n"
                    "`[code](ignored.md)`\n```\n[fenced](ignored.md)\n```\n[web](https://example.org/x)\n")
    problems = broken_links(page)
    assert len(problems) == 2
    assert "no file missing.md" in problems[0] and "no heading #no-such" in problems[1]


def load_page_script():
    spec = importlib.util.spec_from_file_location("configuration_page", ROOT / "docs" / "configuration_page.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def schema_key_names(node, names=None) -> set[str]:
    """The name of every key anywhere in the schema: each `properties` entry, recursively, in the
    top level and in $defs alike (independent of the page script's own walk)."""
    names = set() if names is None else names
    if isinstance(node, dict):
        for name, child in (node.get("properties") or {}).items():
            names.add(name)
            schema_key_names(child, names)
        for key, child in node.items():
            if key != "properties":
                schema_key_names(child, names)
    elif isinstance(node, list):
        for child in node:
            schema_key_names(child, names)
    return names


def test_configuration_page_is_generated_from_the_schema():
    expected = load_page_script().render()
    assert CONFIG_PAGE.read_text(encoding="utf-8") == expected, (
        "docs/configuration.md is out of date with workflow/schemas/config.schema.yaml: "
        "run python docs/configuration_page.py")


def test_every_schema_key_is_documented():
    page = CONFIG_PAGE.read_text(encoding="utf-8")
    documented = {path.rsplit(".", 1)[-1] for path in re.findall(r"^\| `([^`]+)` \|", page, re.M)}
    missing = sorted(schema_key_names(yaml.safe_load(SCHEMA.read_text())) - documented)
    assert not missing, f"schema keys not documented in docs/configuration.md: {missing}"
    top_level = yaml.safe_load(SCHEMA.read_text())["properties"]
    for name in top_level:
        assert f"\n## {name}\n" in page, f"no section for {name} in docs/configuration.md"


def test_cluster_env_table_is_generated_from_the_rules():
    """docs/cluster.md's conda-environment table lists every rule with a conda: directive."""
    import runpy

    script = runpy.run_path(str(ROOT / "docs" / "cluster_envs_table.py"))
    page = (ROOT / "docs" / "cluster.md").read_text(encoding="utf-8")
    assert page == script["page_with_table"](page), "docs/cluster.md's env table is out of date: run " \
        "python docs/cluster_envs_table.py"
    listed = {rule for rules in script["rule_envs"]().values() for rule in rules}
    assert {"train_baseline", "compute_baselines", "check_claims", "plot_reproduction", "plot_learning_curves",
            "train_generator", "preprocess"} <= listed


@pytest.mark.parametrize("path", sorted((ROOT / "workflow" / "report").glob("*.rst")), ids=lambda p: p.name)
def test_report_captions_are_valid_restructuredtext(path):
    """snakemake --report renders each caption with docutils; a stray * or ` warns in its output."""
    import io

    from docutils.core import publish_doctree

    warnings = io.StringIO()
    publish_doctree(path.read_text(encoding="utf-8"), source_path=str(path),
                    settings_overrides={"warning_stream": warnings, "report_level": 2})
    assert warnings.getvalue() == ""
