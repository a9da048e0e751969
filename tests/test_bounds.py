"""SPEC §3, resources bounded on hostile input: at most 100 findings per rule and file, then
one saying how many were left out; a record file or git blob over the size limit
(`--max-file-bytes`) is GOV004 without being read whole."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from govctl.model import loader
from govctl.model.findings import ERROR, WARNING, Finding, cap, left_out_message
from tests.conftest import CliResult, git, require_program
from tests.factory import AS_OF, RepoFactory
from tests.history_support import BOB, commit, committed

DUP = "models/dup.yaml"
HEADER = "apiVersion: govctl/v1\nkind: Model\nmetadata: {id: hostile}\nspec:\n"
BIG = "models/big.yaml"
LIMIT = 4096  # --max-file-bytes in the blob tests: a "large" blob stays cheap to make
BUNDLE, USE_CASE, PROMPT = "triage", "claims-triage", "prompts/triage.md"


def duplicates(n: int) -> str:
    """A Model whose spec repeats the key ``a``: ``n`` duplicates, at lines 6 … n + 5."""
    return HEADER + "  a: 1\n" * (n + 1)


def finding(line: int, rule: str = "GOV002", file: str = "x.yaml",
            severity: str = ERROR) -> Finding:
    return Finding(rule, severity, file, line, 3, "Model/m", f"problem at {line}")


# -- the cap itself ------------------------------------------------------------------------


def test_cap_keeps_100_and_says_how_many_were_left_out() -> None:
    hundred = [finding(line) for line in range(1, 101)]
    assert cap(hundred) == hundred
    given = [finding(line) for line in range(250, 0, -1)]  # not in position order
    out = cap(given)
    assert len(out) == 101
    kept = sorted(f.line for f in out if not f.left_out)
    assert kept == list(range(1, 101))  # the first ones by position
    (summary,) = [f for f in out if f.left_out]
    assert (summary.rule, summary.severity, summary.line, summary.left_out) == \
        ("GOV002", ERROR, 101, 150)  # at the position of the 101st
    assert summary.message == left_out_message("GOV002", 150)
    assert summary.message.startswith("… and 150 more GOV002 findings in this file were "
                                      "left out")
    assert cap(out) == out  # idempotent


def test_cap_is_per_rule_and_file_and_counts_earlier_summaries() -> None:
    given = [finding(line) for line in range(1, 102)]
    given += [finding(line, rule="GOV010") for line in range(1, 101)]
    given += [finding(line, file="y.yaml") for line in range(1, 101)]
    out = cap(given)
    assert len(out) == 301
    (summary,) = [f for f in out if f.left_out]
    assert (summary.file, summary.line, summary.left_out) == ("x.yaml", 101, 1)
    assert summary.message.startswith("… and 1 more GOV002 finding in this file was left out")
    # a summary made earlier (the loader's) counts as the findings it stands for
    more = [*out, *(finding(line) for line in range(200, 220))]
    (merged,) = [f for f in cap(more) if f.left_out]
    assert merged.left_out == 21 and "21 more GOV002 findings" in merged.message


def test_summary_is_as_severe_as_the_worst_left_out() -> None:
    given = [finding(line, severity=WARNING) for line in range(1, 101)]
    given += [finding(101, severity=WARNING), finding(102, severity=ERROR)]
    (summary,) = [f for f in cap(given) if f.left_out]
    assert (summary.severity, summary.line, summary.left_out) == (ERROR, 101, 2)


def test_loader_counts_duplicates_past_the_cap_without_keeping_them() -> None:
    result = loader.load_text(duplicates(5000))
    assert len(result.problems) == 101
    assert all(p.rule == "GOV002" for p in result.problems)
    assert [p.line for p in result.problems[:100]] == list(range(6, 106))
    last = result.problems[-1]
    assert (last.line, last.column, last.left_out) == (106, 3, 4900)
    assert "4,900 more GOV002 findings" in last.message
    assert result.documents[0].data["spec"] == {"a": 1}
    # with positions (how a finding's line is found), the same
    assert len(loader.load_text(duplicates(5000), with_positions=True).problems) == 101


def test_positions_of_a_few_nodes_stop_the_reading_early() -> None:
    text = HEADER + "  developers: [" + "1, " * 50_000 + "1]\n"
    path = ("spec", "developers", 7)
    wanted = {path[:n] for n in range(len(path) + 1)}
    full = loader.load_text(text, with_positions=True)
    found = loader.load_text(text, with_positions=True, wanted=wanted, targets={(0, path)})
    assert loader.locate(found.positions[0], path) == loader.locate(full.positions[0], path)
    assert loader.locate(found.positions[0], path) == (5, 37)
    assert len(found.positions[0]) == 1  # nothing else was kept (nor read further)


def test_a_record_with_thousands_of_wrong_values_is_checked_up_to_a_budget(
        govctl: Callable[..., CliResult], factory: RepoFactory) -> None:
    from govctl.model.repository import SCHEMA_ISSUE_BUDGET

    factory.build()
    factory.write(DUP, HEADER + "  provider: x\n  name: y\n  type: vendor-endpoint\n"
                  "  developers: [" + "1, " * 5000 + "1]\n")
    result = govctl("validate", "--root", factory.root, "--as-of", AS_OF, "--format", "json")
    found = _json_dup(result.stdout)
    assert len(found) == 101 and all(f["rule"] == "GOV010" for f in found)
    assert found[0]["message"] == "spec.developers[0]: expected string, got integer 1; quote it"
    assert (found[0]["line"], found[0]["column"]) == (8, 16)
    assert found[-1]["message"] == left_out_message("GOV010", SCHEMA_ISSUE_BUDGET - 100, True)
    assert "at least 900 more GOV010 findings" in found[-1]["message"]


# -- validate, every format ------------------------------------------------------------------


@pytest.fixture
def dup_repo(factory: RepoFactory) -> Path:
    """The factory repository committed, then 2,000 duplicate keys committed on top."""
    committed(factory)
    factory.write(DUP, duplicates(2000))
    commit(factory.root, BOB, "2026-10-02T09:00:00Z", "repeated keys")
    return factory.root


def _json_dup(out: str) -> list[dict[str, Any]]:
    payload = json.loads(out)
    mine = [f for f in payload["findings"] if f["file"] == DUP]
    errors = sum(1 for f in payload["findings"] if f["severity"] == "error")
    assert payload["summary"] == {"errors": errors, "warnings": 0}  # what is reported
    return mine


def _text_dup(out: str) -> list[str]:
    lines = [line for line in out.splitlines() if line.startswith(f"{DUP}:")]
    assert re.search(r"^101 errors?, 0 warnings", out, re.M), out[-300:]
    return lines


def _github_dup(out: str) -> list[str]:
    return [line for line in out.splitlines()
            if line.startswith("::error ") and f"file={DUP}" in line]


def _sarif_dup(out: str) -> list[Any]:
    results = json.loads(out)["runs"][0]["results"]
    return [r for r in results if r["locations"][0]["physicalLocation"]["artifactLocation"]
            ["uri"].endswith(DUP)]


def _junit_dup(out: str) -> list[str]:
    cases = [c for c in ET.fromstring(out).iter("testcase") if c.get("file") == DUP]
    (failure,) = cases[0].iter("failure")
    assert failure.get("message", "").startswith("101 error(s)")
    return (failure.text or "").splitlines()


@pytest.mark.parametrize(("fmt", "entries"), [
    ("json", _json_dup), ("text", _text_dup), ("github", _github_dup),
    ("sarif", _sarif_dup), ("junit", _junit_dup)])
def test_validate_reports_100_duplicates_then_how_many_were_left_out(
        govctl: Callable[..., CliResult], dup_repo: Path, fmt: str,
        entries: Callable[[str], list[Any]]) -> None:
    result = govctl("validate", "--root", dup_repo, "--as-of", AS_OF, "--format", fmt)
    assert result.code == 1, result.stderr
    found = entries(result.stdout)
    assert len(found) == 101
    assert "1,900 more GOV002 findings in this file were left out" in str(found[-1])
    assert all("duplicate key 'a'" in str(entry) for entry in found[:100])


def test_the_101st_finding_is_at_the_101st_duplicate(govctl: Callable[..., CliResult],
                                                     dup_repo: Path) -> None:
    result = govctl("validate", "--root", dup_repo, "--as-of", AS_OF, "--format", "json")
    found = _json_dup(result.stdout)
    assert [f["line"] for f in found] == list(range(6, 107))
    last = found[-1]
    assert (last["rule"], last["severity"], last["column"], last["record"]) == \
        ("GOV002", "error", 3, "Model/hostile")
    assert last["message"] == left_out_message("GOV002", 1900)
    # the second run answers from the caches, which hold the capped findings
    again = govctl("validate", "--root", dup_repo, "--as-of", AS_OF, "--format", "json")
    assert _json_dup(again.stdout) == found


def test_history_commands_read_the_file_once_and_stay_small(
        govctl: Callable[..., CliResult], dup_repo: Path) -> None:
    payload = govctl("diff", "HEAD~1", "HEAD", "--root", dup_repo, "--format", "json",
                     "--as-of", AS_OF).json()
    assert isinstance(payload, dict)
    impacts = [f for f in payload["impacts"] if f["file"] == DUP]
    assert impacts and len(impacts) <= 101
    history = govctl("history", USE_CASE, "--root", dup_repo, "--format", "json")
    assert history.code == 0, history.stderr
    digest = govctl("digest", BUNDLE, "--root", dup_repo).stdout.strip()
    traced = govctl("trace", digest, "--root", dup_repo, "--format", "json")
    assert traced.code == 0, traced.stderr
    assert traced.json()["bundle"] == BUNDLE  # type: ignore[index]


def test_diff_impacts_are_capped(govctl: Callable[..., CliResult], factory: RepoFactory
                                 ) -> None:
    """150 different duplicate keys outside any record: 150 different impacts."""
    committed(factory)
    factory.write("junk.yaml", "".join(f"k{i}: 1\nk{i}: 2\n" for i in range(150)))
    payload = govctl("diff", "HEAD", "--root", factory.root, "--format", "json",
                     "--as-of", AS_OF).json()
    assert isinstance(payload, dict)
    mine = [f for f in payload["impacts"] if f["file"] == "junk.yaml"]
    assert len(mine) == 101
    assert mine[-1]["message"] == left_out_message("GOV002", 50)
    assert mine[-1]["line"] == 202  # the 101st: "k100: 2"


# -- blobs over the size limit -----------------------------------------------------------------


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """The size of every blob content govctl holds whole (GitPython's cat-file and the
    batched prefetch), and -1 for each blob streamed."""
    import git as gitpython

    from govctl.history import git as history_git

    seen: list[int] = []
    original_data = gitpython.cmd.Git.get_object_data
    original_keep = history_git.GitHistory._keep
    original_stream = history_git.GitHistory.stream

    def get_object_data(self: Any, ref: str) -> Any:
        found = original_data(self, ref)
        seen.append(len(found[3]))
        return found

    def keep(self: Any, sha: str, data: bytes) -> bool:
        seen.append(len(data))
        return original_keep(self, sha, data)

    def stream(self: Any, sha: str) -> Iterator[bytes]:
        seen.append(-1)
        yield from original_stream(self, sha)

    monkeypatch.setattr(gitpython.cmd.Git, "get_object_data", get_object_data)
    monkeypatch.setattr(history_git.GitHistory, "_keep", keep)
    monkeypatch.setattr(history_git.GitHistory, "stream", stream)
    yield seen


def _big_record() -> str:
    return (HEADER + "  provider: examplevendor\n  name: big\n  type: vendor-endpoint\n"
            "  snapshot: big-1\n" + "  # padding\n" * 2000)  # about 24 kB, valid


def test_a_record_blob_over_the_limit_is_gov004_and_never_read(
        govctl: Callable[..., CliResult], factory: RepoFactory, reads: list[int]) -> None:
    committed(factory)
    factory.write(BIG, _big_record())
    commit(factory.root, BOB, "2026-10-02T09:00:00Z", "a large record")
    size = len(_big_record())
    limit = ("--max-file-bytes", LIMIT)
    payload = govctl("diff", "HEAD~1", "HEAD", "--root", factory.root, "--format", "json",
                     "--as-of", AS_OF, *limit).json()
    assert isinstance(payload, dict)
    (gov004,) = [f for f in payload["impacts"] if f["file"] == BIG]
    assert gov004["rule"] == "GOV004"
    assert f"file is {size:,} bytes, over the {LIMIT:,}-byte limit" in gov004["message"]
    for command in (("history", USE_CASE, "--format", "json"),
                    ("trace", govctl("digest", BUNDLE, "--root", factory.root).stdout.strip()),
                    ("validate", "--history", "--as-of", AS_OF, "--format", "json")):
        result = govctl(*command, "--root", factory.root, *limit)
        assert result.code in (0, 1), result.stderr
        assert "Traceback" not in result.stderr
    validated = govctl("validate", "--root", factory.root, "--as-of", AS_OF, "--format",
                       "json", *limit).json()
    assert isinstance(validated, dict)
    assert [f["rule"] for f in validated["findings"] if f["file"] == BIG] == ["GOV004"]
    assert reads and max(reads) <= LIMIT, "a blob over the limit was read whole"
    # without the option, the same file is small enough: read, and clean
    clean = govctl("validate", "--root", factory.root, "--as-of", AS_OF, "--format", "json")
    assert clean.code == 0, clean.stdout


def test_a_large_prompt_in_git_is_hashed_as_a_stream(
        govctl: Callable[..., CliResult], factory: RepoFactory, reads: list[int]) -> None:
    """Referenced files have no size limit (SPEC §1.3 digests their bytes): one over the
    record limit is hashed from git as a stream, to the digest the working tree gives."""
    committed(factory)
    factory.write(PROMPT, "Triage the claim.\n" + "Be careful. " * 2000)
    commit(factory.root, BOB, "2026-10-02T09:00:00Z", "a long prompt")
    digest = govctl("digest", BUNDLE, "--root", factory.root).stdout.strip()
    result = govctl("trace", digest, "--root", factory.root, "--format", "json",
                    "--max-file-bytes", LIMIT)
    assert result.code == 0, result.stderr
    payload = result.json()
    assert isinstance(payload, dict)
    assert payload["bundle"] == BUNDLE and payload["current"] is True
    assert payload["first_commit"]["sha"] == git(factory.root, "rev-parse", "HEAD").strip()
    assert -1 in reads and max(reads) <= LIMIT


def test_max_file_bytes_option(govctl: Callable[..., CliResult], factory: RepoFactory
                               ) -> None:
    from govctl.cli.options import MAX_FILE_BYTES

    assert MAX_FILE_BYTES == loader.MAX_FILE_SIZE
    factory.build()
    factory.write(BIG, _big_record())
    result = govctl("validate", "--root", factory.root, "--as-of", AS_OF, "--format",
                    "json", "--max-file-bytes", "1000")
    assert result.code == 1
    payload = result.json()
    assert isinstance(payload, dict)
    (only,) = [f for f in payload["findings"] if f["file"] == BIG]
    assert (only["rule"], only["line"]) == ("GOV004", 1)
    assert "over the 1,000-byte limit" in only["message"]
    for command in ("validate", "diff", "history", "trace"):
        shown = govctl(command, "--help").stdout
        assert "--max-file-bytes" in shown, command
    refused = govctl("validate", "--root", factory.root, "--max-file-bytes", "0")
    assert refused.code == 2


# -- peak memory (SPEC §3: under 300 MB) ------------------------------------------------------


def _peak_mb(*args: object, cwd: Path) -> tuple[int, float]:
    """(exit code, peak resident MB of ``python -m govctl ARGS`` and what it waited for)."""
    env = {**os.environ, "GOVCTL_CACHE_DIR": str(cwd.parent / "cache")}
    proc = subprocess.Popen([sys.executable, "-m", "govctl", *map(str, args)], cwd=cwd,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, usage.ru_maxrss / 1024  # KiB on Linux


HUGE = 512 * 1024 * 1024


def _commit_huge_blob(root: Path, path: str) -> None:
    """A 512 MiB record committed through fast-import (a few hundred kB in .git; streamed,
    never held or written out), with the working tree keeping a sparse file of that size."""
    line = b"  a: 1\n"
    chunk = line * (1024 * 1024 // len(line))
    stamp = b"1793527200 +0000"
    # (compression level 1: twice as fast as the default on this input, still ~1 MB)
    with subprocess.Popen(["git", "-c", "core.compression=1", "-c", "pack.compression=1",
                           "fast-import", "--quiet"], cwd=root, stdin=subprocess.PIPE) as proc:
        assert proc.stdin is not None
        proc.stdin.write(b"commit refs/heads/main\nauthor Mallory <m@example.test> " + stamp
                         + b"\ncommitter Mallory <m@example.test> " + stamp
                         + b"\ndata 5\nhuge\n\nfrom refs/heads/main^0\nM 100644 inline "
                         + path.encode() + b"\ndata %d\n" % HUGE + HEADER.encode())
        left = HUGE - len(HEADER)
        while left:
            piece = chunk[:left]
            proc.stdin.write(piece)
            left -= len(piece)
        proc.stdin.write(b"\n")
    assert proc.returncode == 0
    git(root, "read-tree", "HEAD")
    git(root, "update-index", "--skip-worktree", path)
    with open(root / path, "wb") as handle:
        handle.truncate(HUGE)


@pytest.mark.memory
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ru_maxrss in KiB: Linux")
def test_peak_memory_on_a_huge_blob_and_on_repeated_keys(factory: RepoFactory) -> None:
    require_program("git")
    committed(factory)
    root = factory.root
    _commit_huge_blob(root, BIG)
    digest = subprocess.run([sys.executable, "-m", "govctl", "digest", BUNDLE], cwd=root,
                            capture_output=True, text=True, check=True).stdout.strip()
    for args in (("validate", "--as-of", AS_OF), ("diff", "HEAD~1", "HEAD"),
                 ("history", USE_CASE), ("trace", digest),
                 ("validate", "--history", "--as-of", AS_OF)):
        code, peak = _peak_mb(*args, cwd=root)
        assert code in (0, 1), args
        assert peak < 300, f"{args[0]}: {peak:.0f} MB"
    # just under 5 MiB of one repeated key: about 750,000 duplicates
    factory.write(DUP, HEADER + "  a: 1\n" * ((loader.MAX_FILE_SIZE - len(HEADER)) // 7))
    code, peak = _peak_mb("validate", "--as-of", AS_OF, "--format", "json", cwd=root)
    assert code == 1
    assert peak < 300, f"validate: {peak:.0f} MB"


def test_a_huge_approver_count_in_the_policy_is_a_finding_not_a_memory_bomb(govctl, factory):
    """`count` has no maximum in the schema: 2**53 - 1 risk officers must not become that
    many approver slots (GOV034 matching), in validate or in a pull request's review."""
    factory.build()
    factory.edit("governance.yaml", "approvals: [{role: risk-officer}, {role: model-owner}]",
                 "approvals: [{role: risk-officer, count: 9007199254740991}, "
                 "{role: model-owner}]")
    result = govctl("validate", "--root", factory.root, "--as-of", AS_OF, "--format", "json")
    assert result.code == 1
    (gov034,) = [f for f in result.json()["findings"] if f["rule"] == "GOV034"]
    assert "risk-officer needs 9007199254740991, has 1" in gov034["message"]
