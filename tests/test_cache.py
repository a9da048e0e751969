"""The caches (parse, result, compiled schemas, digest index) and parallel parsing.

The issue's "done when": a changed file is re-read, a corrupted cache entry is ignored and
rebuilt, concurrent runs do not corrupt the cache, and nothing is ever written inside the
governance repository. Every test gets its own cache folder (``GOVCTL_CACHE_DIR``), and
"the right answer" is always the answer of the same command with ``GOVCTL_NO_CACHE=1``.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from govctl import __version__
from govctl.cache import compiled
from govctl.cache import store as cache
from govctl.history import validation
from govctl.model import parallel, repository, schemas
from govctl.model.repository import WorktreeSource, load_repository
from tests.conftest import CliResult, commit_all, git, init_git, run_subprocess
from tests.factory import AS_OF, RepoFactory
from tests.history_support import BOB, DAVE, commit, committed, digest, git_quiet_status

PROMPT = "prompts/triage.md"
USE_CASE = "use-cases/triage.yaml"
CONTRACT = "thresholds/triage.yaml"
PYTHON = f"py{sys.version_info.major}{sys.version_info.minor}"


# -- fixtures and helpers -----------------------------------------------------------------


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A cache folder of this test alone, outside the governance root."""
    folder = tmp_path / "user-cache"
    monkeypatch.setenv("GOVCTL_CACHE_DIR", str(folder))
    monkeypatch.delenv("GOVCTL_NO_CACHE", raising=False)
    monkeypatch.delenv("GOVCTL_PARALLEL", raising=False)
    return folder


@pytest.fixture
def fresh_schemas() -> Iterator[None]:
    """Forget the compiled schema checks of this process, before and after the test, so the
    test really reads (or writes) its own cache folder's compiled code."""
    schemas._fast_validator.cache_clear()
    yield
    schemas._fast_validator.cache_clear()


def files_of(folder: Path, section: str, pattern: str = "*") -> list[Path]:
    # (any version folder: there is one per version and build of govctl)
    return sorted(folder.glob(f"v*/{section}/{pattern}"))


def only_file(folder: Path, section: str, pattern: str = "*") -> Path:
    found = [p for p in files_of(folder, section, pattern) if not p.name.startswith(".")]
    assert len(found) == 1, found
    return found[0]


def validate_json(govctl: Callable[..., CliResult], root: Path, *extra: object) -> CliResult:
    result = govctl("validate", "--root", root, "--format", "json", "--as-of", AS_OF, *extra)
    assert result.code in (0, 1), result.stderr
    assert result.stderr == ""
    return result


def uncached(monkeypatch: pytest.MonkeyPatch, run: Callable[[], CliResult]) -> CliResult:
    """The answer without any cache: what every cached answer must equal."""
    with monkeypatch.context() as m:
        m.setenv("GOVCTL_NO_CACHE", "1")
        return run()


def counting(monkeypatch: pytest.MonkeyPatch, module: Any, name: str) -> list[tuple[Any, ...]]:
    """Wrap ``module.name`` so each call's arguments are recorded."""
    calls: list[tuple[Any, ...]] = []
    original = getattr(module, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, wrapper)
    return calls


def parsed_paths(calls: list[tuple[Any, ...]]) -> list[str]:
    """The files ``repository._read_file`` parsed (its first argument is the SourceFile)."""
    return sorted(call[0].path for call in calls)


def rules_of(result: CliResult) -> list[tuple[str, str]]:
    payload = result.json()
    assert isinstance(payload, dict)
    return [(f["rule"], f["file"]) for f in payload["findings"]]


def with_errors(factory: RepoFactory) -> RepoFactory:
    """The factory repository plus findings of several kinds: a YAML syntax error, a schema
    violation, a duplicate id and (from a prompt edit) a stale approval."""
    factory.build()
    factory.write("broken/syntax.yaml", "apiVersion: govctl/v1\nkind: Person\n"
                  "metadata: {id: zed\n")
    factory.write("broken/schema.yaml", "apiVersion: govctl/v1\nkind: Person\n"
                  "metadata: {id: yan}\nspec: {name: Yan, email: yan@acme.test, roles: [x],"
                  " shoe_size: 44}\n")
    factory.write("broken/duplicate.yaml", "apiVersion: govctl/v1\nkind: Person\n"
                  "metadata: {id: alice}\nspec: {name: Alice Again, email: a@acme.test, "
                  "roles: [model-owner]}\n")
    factory.edit(PROMPT, "You triage claims.", "You triage every claim.")
    return factory


def snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under ``root`` (the .git folder included): its bytes and mtime."""
    out = {}
    for folder, _, names in os.walk(root):
        for name in names:
            path = Path(folder) / name
            info = path.lstat()
            data = path.read_bytes() if stat.S_ISREG(info.st_mode) else b""
            out[path.relative_to(root).as_posix()] = (data, info.st_mtime_ns)
    return out


def all_entries_parse(folder: Path) -> None:
    """Every entry of the cache is complete: JSON parses, compiled code has a good seal,
    and no temporary file is left behind."""
    entries = [p for p in folder.rglob("*") if p.is_file()]
    assert entries, "nothing was cached"
    for path in entries:
        assert not path.name.endswith(".tmp"), path
        if path.suffix == ".json":
            json.loads(path.read_bytes())
        elif path.suffix == ".jsonl":  # a header, then a line per entry
            document = parse_document(path.read_bytes())
            assert document["root"] and document["files"], path
            assert len(document["files"]) == path.read_bytes().count(b"\n") - 1, path
        elif path.suffix == ".py":
            code = compiled._unsealed(path.read_text())
            assert code is not None, path
            compile(code, str(path), "exec")


# -- reuse and invalidation ---------------------------------------------------------------


def test_second_run_reuses_the_caches_and_answers_identically(govctl, factory, cache_dir,
                                                               monkeypatch, fresh_schemas):
    with_errors(factory)
    first = validate_json(govctl, factory.root)
    assert {"GOV001", "GOV010", "GOV021", "GOV031"} <= {r for r, _ in rules_of(first)}
    only_file(cache_dir, "results", "*.json")
    only_file(cache_dir, "parse", "*.jsonl")
    assert len(files_of(cache_dir, "schemas", "*.py")) >= 1

    parsed = counting(monkeypatch, repository, "_read_file")
    checked = counting(monkeypatch, validation, "check_repository")
    loaded = counting(monkeypatch, validation, "load_repository")
    second = validate_json(govctl, factory.root)
    assert (parsed, checked, loaded) == ([], [], [])  # the whole answer came from the cache
    assert second.stdout == first.stdout
    assert second.code == first.code == 1
    assert second.stdout == uncached(monkeypatch, lambda: validate_json(
        govctl, factory.root)).stdout


def test_parse_cache_alone_skips_parsing_but_rules_still_run(govctl, factory, cache_dir,
                                                             monkeypatch):
    with_errors(factory)
    first = validate_json(govctl, factory.root)
    for entry in files_of(cache_dir, "results"):
        entry.unlink()
    parsed = counting(monkeypatch, repository, "_read_file")
    checked = counting(monkeypatch, validation, "check_repository")
    second = validate_json(govctl, factory.root)
    assert parsed == []
    assert len(checked) == 1
    assert second.stdout == first.stdout
    only_file(cache_dir, "results", "*.json")  # and the answer is cached again


def test_an_unstaged_edit_rereads_that_file_only(govctl, factory, cache_dir, monkeypatch):
    factory.build()
    init_git(factory.root)
    commit_all(factory.root, "records")
    clean = validate_json(govctl, factory.root)
    assert rules_of(clean) == []

    factory.edit(USE_CASE, "status: production", "status: prodution")
    assert git(factory.root, "status", "--porcelain").strip() == f"M {USE_CASE}"
    parsed = counting(monkeypatch, repository, "_read_file")
    checked = counting(monkeypatch, validation, "check_repository")
    edited = validate_json(govctl, factory.root)
    assert parsed_paths(parsed) == [USE_CASE]  # the others came from the parse cache
    assert len(checked) == 1
    assert ("GOV010", USE_CASE) in rules_of(edited)
    assert "prodution" in edited.stdout
    assert edited.stdout == uncached(monkeypatch, lambda: validate_json(
        govctl, factory.root)).stdout

    # undoing the edit: both versions are remembered, nothing is parsed or checked again
    parsed.clear()
    checked.clear()
    factory.edit(USE_CASE, "status: prodution", "status: production")
    assert validate_json(govctl, factory.root).stdout == clean.stdout
    assert (parsed, checked) == ([], [])


def test_editing_a_referenced_prompt_invalidates_the_result_cache(govctl, factory, cache_dir,
                                                                  monkeypatch):
    factory.build()
    clean = validate_json(govctl, factory.root)
    assert rules_of(clean) == []
    factory.edit(PROMPT, "You triage claims.", "You triage claims, quickly.")

    parsed = counting(monkeypatch, repository, "_read_file")
    checked = counting(monkeypatch, validation, "check_repository")
    stale = validate_json(govctl, factory.root)
    assert stale.code == 1
    assert ("GOV031", "approvals/claims-triage-2026-10-01.yaml") in rules_of(stale)
    assert len(checked) == 1  # the cached answer was not used …
    assert parsed == []  # … though no record file changed, so none was parsed again
    assert stale.stdout == uncached(monkeypatch, lambda: validate_json(
        govctl, factory.root)).stdout


@pytest.mark.parametrize("change", ["tool schema", "eval data", "runbook", "missing prompt"])
def test_any_referenced_file_invalidates_the_result_cache(govctl, factory, cache_dir,
                                                          monkeypatch, change):
    factory.build()
    validate_json(govctl, factory.root)
    if change == "tool schema":
        factory.write("tools/lookup.json", '{"type": "object", "required": ["id"]}\n')
    elif change == "eval data":
        factory.write("data/claims-eval.jsonl", '{"claim": "Fire", "expected": "x"}\n')
    elif change == "runbook":
        factory.write("runbooks/triage.md", "# Triage runbook\nPage the team lead.\n")
    else:
        factory.remove(PROMPT)
    again = validate_json(govctl, factory.root)
    assert again.code == 1 and again.json()["findings"]
    assert again.stdout == uncached(monkeypatch, lambda: validate_json(
        govctl, factory.root)).stdout


def test_another_as_of_day_misses_the_result_cache(govctl, factory, cache_dir, monkeypatch):
    factory.build()
    first = validate_json(govctl, factory.root)
    checked = counting(monkeypatch, validation, "check_repository")

    # the same UTC day, at another time: the rules only look at the day, so a hit
    same_day = govctl("validate", "--root", factory.root, "--format", "json",
                      "--as-of", f"{AS_OF}T01:00:00Z")
    assert same_day.stdout == first.stdout and checked == []

    # the day after the approval's valid_until: a miss, and new findings
    later = govctl("validate", "--root", factory.root, "--format", "json",
                   "--as-of", "2027-03-02")
    assert len(checked) == 1
    assert later.code == 1
    assert "GOV033" in {r for r, _ in rules_of(later)}
    assert len(files_of(cache_dir, "results", "*.json")) == 2
    assert later.stdout == uncached(monkeypatch, lambda: govctl(
        "validate", "--root", factory.root, "--format", "json", "--as-of", "2027-03-02")).stdout


def test_paths_are_filtered_from_the_cached_answer(govctl, factory, cache_dir):
    with_errors(factory)
    everything = validate_json(govctl, factory.root)
    one = validate_json(govctl, factory.root, factory.root / "broken/syntax.yaml")
    assert {f for _, f in rules_of(one)} == {"broken/syntax.yaml"}
    assert set(rules_of(one)) < set(rules_of(everything))
    assert validate_json(govctl, factory.root).stdout == everything.stdout


@pytest.mark.parametrize("value", ["1", "true", "yes", "TRUE", "on"])
def test_no_cache_writes_nothing(factory, tmp_path, value):
    factory.build()
    folder = tmp_path / "user-cache"
    env = {"GOVCTL_CACHE_DIR": str(folder), "GOVCTL_NO_CACHE": value}
    for args in (["validate", "--as-of", AS_OF], ["status", "--as-of", AS_OF],
                 ["digest", "triage"]):
        result = run_subprocess(*args, "--root", factory.root, cwd=tmp_path, env=env)
        assert result.code == 0, result.stderr
    assert not folder.exists()


def test_version_python_and_build_name_the_cache_folder(cache_dir):
    assert cache.root().parent == cache_dir
    assert cache.root().name == f"v{__version__}-{PYTHON}-{cache.code_fingerprint()}"


def test_the_build_fingerprint_follows_code_and_schema_edits(tmp_path, monkeypatch):
    """An editable install keeps its version number while its code and schemas change."""
    package = tmp_path / "site" / "govctl"
    (package / "schemas").mkdir(parents=True)
    (package / "cache").mkdir()
    (package / "cache" / "store.py").write_text("# the module\n")
    (package / "schemas" / "UseCase.json").write_text("{}")
    (package / "__pycache__").mkdir()
    monkeypatch.setattr(cache, "__file__", str(package / "cache" / "store.py"))
    fingerprint = cache.code_fingerprint.__wrapped__
    first = fingerprint()
    assert fingerprint() == first
    (package / "__pycache__" / "cache.cpython.pyc").write_bytes(b"compiled")
    assert fingerprint() == first  # byte code comes and goes: not an edit
    (package / "schemas" / "UseCase.json").write_text('{"type": "object"}')
    second = fingerprint()
    assert second != first
    os.utime(package / "cache" / "store.py", ns=(1, 1))
    assert fingerprint() not in (first, second)


def test_a_relative_cache_dir_is_made_absolute(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GOVCTL_CACHE_DIR", "rel-cache")
    assert cache.root().parent == tmp_path / "rel-cache"


def test_xdg_and_home_defaults(monkeypatch, tmp_path):
    monkeypatch.delenv("GOVCTL_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache.root().parent == tmp_path / "xdg" / "govctl"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache.root().parent == tmp_path / "home" / ".cache" / "govctl"


def test_no_home_at_all_turns_the_cache_off(govctl, factory, monkeypatch):
    """`docker run --user 1234` without HOME: Path.home() raises; validate must not."""
    factory.build()
    reference = uncached(monkeypatch, lambda: validate_json(govctl, factory.root))
    monkeypatch.delenv("GOVCTL_CACHE_DIR", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)

    def no_home(cls: Any = None) -> Path:
        raise RuntimeError("Could not determine home directory.")

    monkeypatch.setattr(Path, "home", classmethod(no_home))
    assert not cache.enabled()
    assert validate_json(govctl, factory.root).stdout == reference.stdout


# -- corruption -----------------------------------------------------------------------------

CORRUPT_DOCUMENTS: dict[str, Callable[[bytes], bytes]] = {
    "truncated": lambda raw: raw[: len(raw) // 2],
    "empty": lambda raw: b"",
    "garbage": lambda raw: b"\xff\xfe\x00garbage" + os.urandom(64),
    "not utf-8 json": lambda raw: b'{"root": "\xff"}',
    "a list": lambda raw: b"[]",
    "a number": lambda raw: b"42",
    "null": lambda raw: b"null",
    "deeply nested": lambda raw: b"[" * 100_000 + b"]" * 100_000,
}


def parse_document(raw: bytes) -> dict[str, Any]:
    """A parse cache file read independently of govctl's reader: ``{"root", "files": {key:
    entry}}`` of the lines that read as JSON (no entries from a file of another format)."""
    head, _, body = raw.partition(b"\n")
    try:
        header = json.loads(head)
    except (ValueError, RecursionError):
        header = None
    if not isinstance(header, dict) or header.get("format") != 2:
        return {"root": None, "files": {}}
    files = {}
    for line in body.split(b"\n"):
        key, _, text = line.partition(b"\t")
        try:
            files[key.decode()] = json.loads(text)
        except ValueError:
            continue
    return {"root": header.get("root"), "files": files}


def parse_file_bytes(document: dict[str, Any], fmt: int = 2) -> bytes:
    lines = [json.dumps({"format": fmt, "root": document["root"]})]
    lines += [f"{key}\t{json.dumps(entry)}" for key, entry in document["files"].items()]
    return "\n".join(lines).encode() + b"\n"


def _every_entry(make: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def change(document: Any) -> Any:
        document["files"] = {key: make(entry) for key, entry in document["files"].items()}
        return document

    return change


def _first_line(change: Callable[[bytes], bytes]) -> Callable[[bytes], bytes]:
    def damage(raw: bytes) -> bytes:
        head, first, rest = raw.split(b"\n", 2)
        return b"\n".join((head, change(first), rest))

    return damage


# (and, each line standing alone, damage to one line of a parse cache)
PARSE_DAMAGE: dict[str, Callable[[bytes], bytes]] = {**CORRUPT_DOCUMENTS, **{
    "another format": lambda raw: parse_file_bytes(parse_document(raw), fmt=99),
    "the old single document": lambda raw: json.dumps(parse_document(raw)).encode(),
    "a line without its tab": _first_line(lambda line: line.replace(b"\t", b" ")),
    "a key cut short": _first_line(lambda line: line[:63] + line[64:]),
    "a key that is no hex": _first_line(lambda line: b"\xff" * 64 + line[64:]),
    "an entry cut short": _first_line(lambda line: line[:-2]),
}}

PARSE_CHANGES: dict[str, Callable[[Any], Any]] = {
    "another root": lambda d: {**d, "root": "/somewhere/else"},
    "entry is a mapping": _every_entry(lambda e: {"records": e[0]}),
    "entry is empty": _every_entry(lambda e: []),
    "entry is a string": _every_entry(lambda e: "abc"),
    "record line is text": _every_entry(
        lambda e: [[[*r[:3], str(r[3]), *r[4:]] for r in e[0]], e[1]]),
    "record data is a list": _every_entry(
        lambda e: [[[*r[:4], [], r[5]] for r in e[0]], e[1]]),
    "record of an unknown kind": _every_entry(
        lambda e: [[["Gadget", *r[1:]] for r in e[0]], e[1]]),
    "record valid is 1": _every_entry(lambda e: [[[*r[:5], 1] for r in e[0]], e[1]]),
    "finding too short": _every_entry(lambda e: [e[0], [f[:3] for f in e[1]] or [["GOV001"]]]),
    "finding line is text": _every_entry(
        lambda e: [e[0], [[*f[:3], "7", *f[4:]] for f in e[1]] or [["GOV001", "error", "x",
                                                                      "7", 1, None, "m"]]]),
    "finding is null": _every_entry(lambda e: [e[0], [None]]),
}


@pytest.mark.parametrize("how", [*PARSE_DAMAGE, *PARSE_CHANGES])
def test_a_corrupted_parse_cache_is_ignored_and_rebuilt(govctl, factory, cache_dir,
                                                        monkeypatch, how):
    with_errors(factory)
    reference = validate_json(govctl, factory.root)
    entry = only_file(cache_dir, "parse", "*.jsonl")
    raw = entry.read_bytes()
    good = parse_document(raw)
    assert len(good["files"]) >= 10
    if how in PARSE_DAMAGE:
        entry.write_bytes(PARSE_DAMAGE[how](raw))
    else:
        entry.write_bytes(parse_file_bytes(PARSE_CHANGES[how](parse_document(raw))))
    # the entries that can no longer be trusted (compared as JSON: in Python 1 == True, in
    # the cache they differ); every line stands alone, so a torn file keeps the others
    read = parse_document(entry.read_bytes())
    damaged = sum(read["root"] != good["root"]
                  or json.dumps(read["files"].get(key)) != json.dumps(value)
                  for key, value in good["files"].items())
    assert damaged >= 1
    for result_entry in files_of(cache_dir, "results"):
        result_entry.unlink()  # the parse cache must answer on its own

    parsed = counting(monkeypatch, repository, "_read_file")
    again = validate_json(govctl, factory.root)
    assert again.stdout == reference.stdout
    assert again.code == reference.code
    assert len(parsed) == damaged  # every damaged entry parsed again, the rest reused
    assert parse_document(entry.read_bytes()) == good  # and a good file written back


RESULT_CHANGES: dict[str, Callable[[Any], Any]] = {
    "findings is a mapping": lambda e: {**e, "findings": {}},
    "finding too short": lambda e: {**e, "findings": [["GOV001", "error"]]},
    "finding line is text": lambda e: {**e, "findings": [
        [*f[:3], str(f[3]), *f[4:]] for f in e["findings"]]},
    "finding column is a float": lambda e: {**e, "findings": [
        [*f[:4], 1.5, *f[5:]] for f in e["findings"]]},
    "finding record is a number": lambda e: {**e, "findings": [
        [*f[:5], 7, f[6]] for f in e["findings"]]},
    "records is text": lambda e: {**e, "records": "15"},
    "records is true": lambda e: {**e, "records": True},
    "records is negative": lambda e: {**e, "records": -1},
    "files is text": lambda e: {**e, "files": "people.yaml"},
    "files holds numbers": lambda e: {**e, "files": [1, 2]},
    "referenced is a list": lambda e: {**e, "referenced": list(e["referenced"])},
    "referenced value is null": lambda e: {**e, "referenced": dict.fromkeys(e["referenced"])},
    "referenced is missing": lambda e: {k: v for k, v in e.items() if k != "referenced"},
    "a stale referenced hash": lambda e: {**e, "findings": [], "referenced": {
        k: "0" * 64 for k in e["referenced"]}},
}


@pytest.mark.parametrize("how", [*CORRUPT_DOCUMENTS, *RESULT_CHANGES])
def test_a_corrupted_result_cache_entry_is_ignored_and_rewritten(govctl, factory, cache_dir,
                                                                 monkeypatch, how):
    with_errors(factory)
    reference = validate_json(govctl, factory.root)
    entry = only_file(cache_dir, "results", "*.json")
    good = json.loads(entry.read_bytes())
    assert good["findings"] and good["referenced"]
    raw = entry.read_bytes()
    entry.write_bytes(CORRUPT_DOCUMENTS[how](raw) if how in CORRUPT_DOCUMENTS
                      else json.dumps(RESULT_CHANGES[how](json.loads(raw))).encode())

    checked = counting(monkeypatch, validation, "check_repository")
    again = validate_json(govctl, factory.root)
    assert again.stdout == reference.stdout
    assert again.code == reference.code
    assert len(checked) == 1  # computed, not taken from the damaged entry
    assert json.loads(entry.read_bytes()) == good


def test_a_forged_result_entry_that_is_world_writable_is_not_trusted(govctl, factory,
                                                                     cache_dir):
    """Someone else able to write the cache could make a failing repository pass."""
    with_errors(factory)
    reference = validate_json(govctl, factory.root)
    entry = only_file(cache_dir, "results", "*.json")
    forged = {**json.loads(entry.read_bytes()), "findings": []}
    entry.write_text(json.dumps(forged))
    entry.chmod(0o666)
    again = validate_json(govctl, factory.root)
    assert again.stdout == reference.stdout and again.code == 1


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0,
                    reason="only root can give a file to another user")
def test_a_result_entry_owned_by_another_user_is_not_trusted(govctl, factory, cache_dir):
    with_errors(factory)
    reference = validate_json(govctl, factory.root)
    entry = only_file(cache_dir, "results", "*.json")
    entry.write_text(json.dumps({**json.loads(entry.read_bytes()), "findings": []}))
    os.chown(entry, 4242, 4242)
    assert validate_json(govctl, factory.root).stdout == reference.stdout


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_in_place_of_a_cache_entry_does_not_block(factory, cache_dir, tmp_path):
    factory.build()
    env = {"GOVCTL_CACHE_DIR": str(cache_dir)}
    args = ("validate", "--root", factory.root, "--format", "json", "--as-of", AS_OF)
    first = run_subprocess(*args, cwd=tmp_path, env=env)
    for section in ("results", "parse"):
        entry = only_file(cache_dir, section, "*.json*")
        entry.unlink()
        os.mkfifo(entry)
    again = run_subprocess(*args, cwd=tmp_path, env=env, timeout=60)
    assert (again.code, again.stdout, again.stderr) == (first.code, first.stdout, "")


def _approval_data(factory: RepoFactory) -> dict[str, Any]:
    from govctl.model import loader

    raw = (factory.root / "approvals/claims-triage-2026-10-01.yaml").read_bytes()
    data = loader.load_bytes(raw).documents[0].data
    assert isinstance(data, dict)
    return data


def _cut_at_lines(text: str, fraction: float) -> str:
    lines = text.split("\n")
    return "\n".join(lines[: int(len(lines) * fraction)])


COMPILED_DAMAGE: dict[str, Callable[[str], str]] = {
    "empty": lambda text: "",
    "garbage": lambda text: "\x00\x01 this is not python (",
    "not utf-8": lambda text: "\udcff",  # written with surrogateescape: a lone 0xff byte
    # valid Python that defines validate() but lost its last checks: the dangerous case
    "cut at a line": lambda text: _cut_at_lines(text, 0.2),
    "cut in half": lambda text: _cut_at_lines(text, 0.5),
    "seal of other code": lambda text: text.split("\n", 1)[0] + "\ndef validate(data, "
                                       "custom_formats={}, name_prefix=None):\n    return data\n",
    "unsealed code": lambda text: "def validate(data, custom_formats={}, name_prefix=None):\n"
                                  "    return data\n",
}


@pytest.mark.parametrize("how", COMPILED_DAMAGE)
def test_a_damaged_compiled_schema_is_ignored_and_rewritten(factory, cache_dir, fresh_schemas,
                                                            how):
    factory.build()
    good = _approval_data(factory)
    bad = json.loads(json.dumps(good))
    bad["spec"]["approvers"] = "nobody"
    bad["spec"]["date"] = "2026-02-30"
    assert schemas.is_valid("Approval", good)
    assert not schemas.is_valid("Approval", bad)
    entry = only_file(cache_dir, "schemas", "Approval-*.py")
    written = entry.read_text()
    assert written.startswith("# govctl-sha256: ")

    entry.write_bytes(COMPILED_DAMAGE[how](written).encode("utf-8", "surrogateescape"))
    schemas._fast_validator.cache_clear()
    assert not schemas.is_valid("Approval", bad)
    assert schemas.is_valid("Approval", good)
    assert schemas.validate("Approval", bad)  # and the messages still come
    assert entry.read_text() == written  # compiled afresh and written back


def test_compiled_schemas_are_read_back_from_the_cache(factory, cache_dir, fresh_schemas,
                                                       monkeypatch):
    factory.build()
    assert schemas.is_valid("Approval", _approval_data(factory))
    schemas._fast_validator.cache_clear()
    import fastjsonschema

    compiles = counting(monkeypatch, fastjsonschema, "compile_to_code")
    assert schemas.is_valid("Approval", _approval_data(factory))
    assert compiles == []


def test_a_cache_folder_that_cannot_be_created_only_costs_speed(factory, tmp_path):
    factory.build()
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    args = ("validate", "--root", factory.root, "--format", "json", "--as-of", AS_OF)
    reference = run_subprocess(*args, cwd=tmp_path, env={"GOVCTL_NO_CACHE": "1"})
    for _ in range(2):
        result = run_subprocess(*args, cwd=tmp_path,
                                env={"GOVCTL_CACHE_DIR": str(blocker / "cache")})
        assert (result.code, result.stdout, result.stderr) == (reference.code,
                                                               reference.stdout, "")


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="root writes into a chmod 555 folder anyway")
def test_a_read_only_cache_folder_only_costs_speed(factory, tmp_path):
    with_errors(factory)
    folder = tmp_path / "ro-cache"
    folder.mkdir()
    args = ("validate", "--root", factory.root, "--format", "json", "--as-of", AS_OF)
    reference = run_subprocess(*args, cwd=tmp_path, env={"GOVCTL_NO_CACHE": "1"})
    env = {"GOVCTL_CACHE_DIR": str(folder)}
    run_subprocess(*args, cwd=tmp_path, env=env)  # filled, then made read-only
    try:
        for path in [folder, *folder.rglob("*")]:
            if path.is_dir():
                path.chmod(0o555)
        factory.edit(USE_CASE, "status: production", "status: prodution")
        reference = run_subprocess(*args, cwd=tmp_path, env={"GOVCTL_NO_CACHE": "1"})
        result = run_subprocess(*args, cwd=tmp_path, env=env)
        assert (result.code, result.stdout, result.stderr) == (reference.code,
                                                               reference.stdout, "")
    finally:
        for path in [folder, *folder.rglob("*")]:
            if path.is_dir():
                path.chmod(0o755)


# -- concurrency ----------------------------------------------------------------------------


def test_concurrent_runs_agree_and_leave_a_readable_cache(factory, tmp_path):
    """Rounds of six `validate` processes at once on one repository and one cache folder,
    with an edit between rounds; each must print the answer of the repository as it is."""
    with_errors(factory)
    folder = tmp_path / "shared-cache"
    days = ["2026-11-27", "2026-11-28", "2027-03-02"]
    states = {
        "as built": None,
        "use case broken": (USE_CASE, "status: production", "status: prodution"),
        "use case fixed again": (USE_CASE, "status: prodution", "status: production"),
    }

    def command(day: str) -> list[str]:
        return [sys.executable, "-m", "govctl", "validate", "--root", str(factory.root),
                "--format", "json", "--as-of", day]

    for edit in states.values():
        if edit is not None:
            factory.edit(*edit)
        expected = {day: run_subprocess(*command(day)[3:], cwd=tmp_path,
                                        env={"GOVCTL_NO_CACHE": "1"}) for day in days}
        env = {**os.environ, "GOVCTL_CACHE_DIR": str(folder)}
        procs = [(day, subprocess.Popen(command(day), cwd=tmp_path, env=env, text=True,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE))
                 for day in days * 2]
        for day, proc in procs:
            out, err = proc.communicate(timeout=120)
            assert err == ""
            assert (proc.returncode, out) == (expected[day].code, expected[day].stdout)
    all_entries_parse(folder)
    # two states of the repository × three days (counted by name: an edit of govctl's own
    # code while this runs starts another version folder)
    assert len({p.name for p in files_of(folder, "results", "*.json")}) == len(days) * 2


_WRITER = """
import os, sys
os.environ["GOVCTL_CACHE_DIR"] = sys.argv[1]
from govctl.cache import store as cache
cache.code_fingerprint = lambda: "stress"  # the reader's folder, whatever the code
payload = bytes([int(sys.argv[2])]) * int(sys.argv[3])
for _ in range(int(sys.argv[4])):
    cache.write_bytes("stress", "entry.json", payload)
"""


def test_concurrent_writers_never_leave_a_torn_entry(tmp_path, monkeypatch):
    folder = tmp_path / "stress-cache"
    monkeypatch.setenv("GOVCTL_CACHE_DIR", str(folder))
    monkeypatch.setattr(cache, "code_fingerprint", lambda: "stress")
    size, rounds = 300_000, 40
    writers = [subprocess.Popen([sys.executable, "-c", _WRITER, str(folder), str(i), str(size),
                                 str(rounds)]) for i in range(1, 5)]
    seen: set[int] = set()
    try:
        while any(w.poll() is None for w in writers):
            data = cache.read_bytes("stress", "entry.json")
            if data is None:
                continue
            assert len(data) == size
            assert data == bytes([data[0]]) * size  # one writer's payload, whole
            seen.add(data[0])
    finally:
        for w in writers:
            w.wait(timeout=120)
    assert all(w.returncode == 0 for w in writers)
    assert seen, "the reader never saw an entry"
    assert [p.name for p in files_of(folder, "stress")] == ["entry.json"]  # no temp files


# -- never inside the repository ------------------------------------------------------------


def _history_repo(govctl: Any, factory: RepoFactory) -> str:
    """A committed factory repository with a second commit; the current bundle digest."""
    committed(factory, BOB, "2026-10-01T09:00:00Z")
    factory.edit(CONTRACT, "max: 0.2,", "max: 0.3,")
    commit(factory.root, DAVE, "2026-10-05T10:00:00Z", "Loosen drift")
    return digest(govctl, factory.root, "triage")


def _every_command(root: Path, outside: Path, value: str) -> list[list[object]]:
    return [
        ["validate", "--root", root, "--as-of", AS_OF],
        ["validate", "--root", root, "--history", "--as-of", AS_OF],
        ["status", "--root", root, "--as-of", AS_OF],
        ["card", "claims-triage", "--root", root, "-o", outside / "card.md", "--force",
         "--as-of", AS_OF],
        ["trace", value, "--root", root],
        ["diff", "HEAD~1", "HEAD", "--root", root, "--as-of", AS_OF],
        ["diff", "HEAD~1", "--root", root, "--as-of", AS_OF],
        ["history", "claims-triage", "--root", root],
        ["explain", "claims-triage", "--root", root, "--as-of", AS_OF],
        ["digest", "triage", "--root", root],
    ]


def test_no_command_writes_inside_the_governance_repository(govctl, factory, cache_dir,
                                                            tmp_path):
    value = _history_repo(govctl, factory)
    assert git_quiet_status(factory.root) == ""
    before = snapshot(factory.root)
    outside = tmp_path / "out"
    outside.mkdir()
    for _ in range(2):  # cold, then warm
        for args in _every_command(factory.root, outside, value):
            result = govctl(*args, cwd=factory.root)
            assert result.code in (0, 1), (args, result.stderr)
    assert git_quiet_status(factory.root) == ""
    assert snapshot(factory.root) == before
    assert (outside / "card.md").is_file()
    assert files_of(cache_dir, "digests") and files_of(cache_dir, "results")


@pytest.mark.parametrize("inside", [".cache", "sub/dir/.govctl-cache", "."])
def test_a_cache_folder_inside_the_governance_root_is_not_used(govctl, factory, tmp_path,
                                                               inside):
    value = _history_repo(govctl, factory)
    folder = factory.root / inside
    before = snapshot(factory.root)
    env = {"GOVCTL_CACHE_DIR": str(folder)}
    outside = tmp_path / "out"
    outside.mkdir()
    for args in _every_command(factory.root, outside, value):
        # a new process each time: compiled schemas are written on first use in a process
        result = run_subprocess(*args, cwd=tmp_path, env=env)
        assert result.code in (0, 1), (args, result.stderr)
        assert "Traceback" not in result.stderr
    assert snapshot(factory.root) == before
    assert git_quiet_status(factory.root) == ""


def test_cache_entries_committed_to_the_repository_are_never_read(govctl, factory, tmp_path,
                                                                  cache_dir):
    """A pull request must not be able to plant cache entries: with the cache configured
    inside the checkout, a planted compiled schema would run, a planted answer would pass."""
    with_errors(factory)
    args = ("validate", "--root", factory.root, "--format", "json", "--as-of", AS_OF)
    reference = run_subprocess(*args, cwd=tmp_path, env={"GOVCTL_CACHE_DIR": str(cache_dir)})
    assert reference.code == 1

    planted = factory.root / ".cache"
    marker = tmp_path / "planted-code-ran"
    evil = (f"import pathlib\npathlib.Path({str(marker)!r}).write_text('ran')\n"
            "def validate(data, custom_formats={}, name_prefix=None):\n    return data\n")
    for entry in files_of(cache_dir, "schemas", "*.py"):
        target = planted / entry.parent.parent.name / "schemas" / entry.name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(compiled._sealed(evil))  # a correct seal: anyone can compute it
    result_entry = only_file(cache_dir, "results", "*.json")
    forged = {**json.loads(result_entry.read_bytes()), "findings": []}
    target = planted / result_entry.parent.parent.name / "results" / result_entry.name
    target.parent.mkdir(parents=True)
    target.write_text(json.dumps(forged))
    init_git(factory.root)
    commit_all(factory.root, "records and a planted cache")

    result = run_subprocess(*args, cwd=tmp_path, env={"GOVCTL_CACHE_DIR": str(planted)})
    assert not marker.exists()
    assert (result.code, result.stdout) == (reference.code, reference.stdout)
    assert git_quiet_status(factory.root) == ""


# -- parallel parsing -----------------------------------------------------------------------


def _generate_module() -> Any:
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "generate.py"
    spec = importlib.util.spec_from_file_location("govctl_benchmark_generate", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ERROR_FILES = {
    # sorted first and last, so both the parent's and the child's half hold errors
    "aa-broken/syntax.yaml": b"apiVersion: govctl/v1\nkind: Person\nmetadata: {id: q\n",
    "aa-broken/schema.yaml": b"apiVersion: govctl/v1\nkind: Person\nmetadata: {id: qq}\n"
                             b"spec: {name: Q, email: q@x.test, roles: [a], hat: 1}\n",
    "zz-broken/latin1.yaml": b"apiVersion: govctl/v1\nkind: Person\nmetadata: {id: \xe9}\n",
    "zz-broken/duplicate.yaml": b"apiVersion: govctl/v1\nkind: Person\nmetadata: {id: ana}\n"
                                b"spec: {name: Ana Two, email: a2@x.test, roles: [cfo]}\n",
    "zz-broken/alias.yaml": b"a: &a [1]\nb: *a\nc: !!python/object:os.system ls\n",
}


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """~530 record files from the benchmark generator, plus files with errors."""
    root = tmp_path_factory.mktemp("generated") / "repo"
    module = _generate_module()
    module.write_tree(root, module.generate_tree(100))
    for rel, data in ERROR_FILES.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


def _loaded(root: Path) -> tuple[Any, ...]:
    repo = load_repository(WorktreeSource(root))
    return repo.files, repo.records, repo.findings, repo.referenced_files


def _forks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    pids: list[int] = []
    real = os.fork

    def fork() -> int:
        pid = real()
        if pid:
            pids.append(pid)
        return pid

    monkeypatch.setattr(os, "fork", fork)
    return pids


needs_fork = pytest.mark.skipif(not parallel._usable() or not hasattr(os, "fork"),
                                reason="parallel parsing forks (Linux, two cores)")


@needs_fork
def test_parallel_parsing_gives_exactly_the_sequential_result(generated, monkeypatch):
    monkeypatch.setenv("GOVCTL_NO_CACHE", "1")
    monkeypatch.setenv("GOVCTL_PARALLEL", "0")
    sequential = _loaded(generated)
    assert len(sequential[0]) >= parallel.MIN_ITEMS
    rules = {f.rule for f in sequential[2]}
    assert {"GOV001", "GOV003", "GOV004", "GOV010", "GOV021"} <= rules, rules

    monkeypatch.setenv("GOVCTL_PARALLEL", "1")
    forks = _forks(monkeypatch)
    assert _loaded(generated) == sequential
    assert len(forks) == 1


@needs_fork
def test_parallel_validate_output_is_identical(govctl, generated, monkeypatch):
    monkeypatch.setenv("GOVCTL_NO_CACHE", "1")
    outputs = {}
    for setting in ("0", "1"):
        monkeypatch.setenv("GOVCTL_PARALLEL", setting)
        outputs[setting] = validate_json(govctl, generated)
    assert outputs["0"].stdout == outputs["1"].stdout
    assert outputs["0"].code == outputs["1"].code == 1


def _fail_in_child(monkeypatch: pytest.MonkeyPatch, how: str) -> None:
    parent = os.getpid()
    original = repository._read_file

    def read_file(source_file: Any, locator: Any) -> Any:
        if os.getpid() != parent:
            if how == "raise":
                raise RuntimeError("the child fails")
            if how == "exit":
                os._exit(0)  # gone without a word: an empty payload
            if how == "kill":
                os.kill(os.getpid(), 9)
        return original(source_file, locator)

    monkeypatch.setattr(repository, "_read_file", read_file)


@needs_fork
@pytest.mark.parametrize("how", ["raise", "exit", "kill"])
def test_a_failing_child_costs_only_time(factory, monkeypatch, how):
    with_errors(factory)
    monkeypatch.setenv("GOVCTL_NO_CACHE", "1")
    monkeypatch.setenv("GOVCTL_PARALLEL", "0")
    sequential = _loaded(factory.root)
    monkeypatch.setenv("GOVCTL_PARALLEL", "1")
    monkeypatch.setattr(parallel, "MIN_ITEMS", 2)
    forks = _forks(monkeypatch)
    _fail_in_child(monkeypatch, how)
    assert _loaded(factory.root) == sequential
    assert len(forks) == 1
    with pytest.raises(ChildProcessError):
        os.waitpid(forks[0], os.WNOHANG)  # reaped


@needs_fork
def test_a_parent_failure_does_not_leave_the_child_behind(monkeypatch):
    forks = _forks(monkeypatch)
    parent = os.getpid()

    def work(item: int) -> int:
        if os.getpid() == parent and item == 3:
            raise ValueError("the parent's half fails")
        return item

    with pytest.raises(ValueError):
        parallel.map_halves(work, range(parallel.MIN_ITEMS * 2))
    assert len(forks) == 1
    with pytest.raises(ChildProcessError):
        os.waitpid(forks[0], os.WNOHANG)


@needs_fork
def test_map_halves_keeps_order_and_survives_unpicklable_results(monkeypatch):
    forks = _forks(monkeypatch)
    items = list(range(parallel.MIN_ITEMS * 2 + 1))
    assert parallel.map_halves(lambda i: i * i, items) == [i * i for i in items]
    # a lambda cannot be pickled: the child fails to send, the parent computes it all
    results = parallel.map_halves(lambda i: (lambda: i), items)
    assert [f() for f in results] == items
    assert len(forks) == 2


def test_map_halves_stays_sequential_when_told_or_small(monkeypatch):
    forks = _forks(monkeypatch)
    assert parallel.map_halves(str, range(10)) == [str(i) for i in range(10)]
    monkeypatch.setenv("GOVCTL_PARALLEL", "0")
    items = range(parallel.MIN_ITEMS * 2)
    assert parallel.map_halves(str, items) == [str(i) for i in items]
    assert forks == []


# -- the digest index -----------------------------------------------------------------------


def _trace(govctl: Any, root: Path, value: str) -> CliResult:
    result = govctl("trace", value, "--root", root, "--format", "json")
    assert result.code == 0, result.stderr
    return result


def test_a_second_trace_of_the_same_head_reads_the_index(govctl, factory, cache_dir,
                                                         monkeypatch):
    from govctl.history import digest_index as digestindex

    value = _history_repo(govctl, factory)
    builds = counting(monkeypatch, digestindex, "build")
    first = _trace(govctl, factory.root, value)
    assert len(builds) == 1
    entry = only_file(cache_dir, "digests", "*.json")
    second = _trace(govctl, factory.root, value)
    assert len(builds) == 1  # no replay of the history
    assert second.stdout == first.stdout
    assert first.stdout == uncached(monkeypatch, lambda: _trace(govctl, factory.root,
                                                                value)).stdout

    factory.edit("models/chat.yaml", "name: vendor-chat", "name: vendor-chat-2")
    commit(factory.root, DAVE, "2026-10-06T10:00:00Z", "Rename model")
    third = _trace(govctl, factory.root, value)
    assert len(builds) == 3  # (the uncached run above built one too)
    assert len(files_of(cache_dir, "digests", "*.json")) == 2
    assert entry.exists()
    assert third.stdout == uncached(monkeypatch, lambda: _trace(govctl, factory.root,
                                                                value)).stdout


def test_the_digest_index_written_in_pieces_reads_back_whole():
    from govctl.history.digest_index import DigestIndex
    from govctl.history.git import Commit
    from govctl.model.records import Record

    commit = Commit("a" * 40, ("b" * 40,), "Zoë Ann", "z@x", "2026-10-01T09:00:00+00:00",
                    "Ci", "c@x", "2026-10-01T09:00:00+00:00", "subject", "G", ())
    approval = Record("Approval", "ap-1", "approvals/ap.yaml", 1, 4, {
        "kind": "Approval", "metadata": {"id": "ap-1"},
        "spec": {"use_case": "uc", "decision": "approved", "date": "2026-10-01",
                 "bundle": {"id": "b", "digest": "sha256:1"},
                 "approvers": [{"person": "zoë", "role": "r"}], "note": "\udcff"}}, True)
    index = DigestIndex("h" * 40, 7)
    index.first = {"sha256:1": {"b": (3, commit, "uc"), "c": (4, commit, None)},
                   "sha256:2": {"b": (5, commit, "uc")}}
    index.approvals = {"sha256:1": {"ap-1": approval}}
    back = DigestIndex.from_json(json.loads(b"".join(index.json_pieces())))
    assert back == index
    empty = DigestIndex.from_json(json.loads(b"".join(DigestIndex("", 0).json_pieces())))
    assert empty == DigestIndex("", 0)


INDEX_DAMAGE: dict[str, Callable[[Any], Any]] = {
    "another format": lambda d: {**d, "format": 99},
    "first is a list": lambda d: {**d, "first": []},
    "approvals is a list": lambda d: {**d, "approvals": [1]},
    "commits is text": lambda d: {**d, "commits": "3"},
    "a bundle entry too short": lambda d: {**d, "first": {
        k: {b: e[:2] for b, e in v.items()} for k, v in d["first"].items()}},
    "a commit without author": lambda d: {**d, "first": {
        k: {b: [e[0], {x: y for x, y in e[1].items() if x != "author"}, e[2]]
            for b, e in v.items()} for k, v in d["first"].items()}},
    "position is text": lambda d: {**d, "first": {
        k: {b: ["1", *e[1:]] for b, e in v.items()} for k, v in d["first"].items()}},
    "an approval that is not one": lambda d: {**d, "approvals": {
        k: {a: [e[0], e[1], e[2], {"spec": {}}] for a, e in v.items()}
        for k, v in d["approvals"].items()}},
    "approvers is text": lambda d: {**d, "approvals": {
        k: {a: [*e[:3], {**e[3], "spec": {**e[3]["spec"], "approvers": "bob"}}]
            for a, e in v.items()} for k, v in d["approvals"].items()}},
    "an approval under another id": lambda d: {**d, "approvals": {
        k: {a + "-x": e for a, e in v.items()} for k, v in d["approvals"].items()}},
}


@pytest.mark.parametrize("how", [*CORRUPT_DOCUMENTS, *INDEX_DAMAGE])
def test_a_corrupted_digest_index_is_rebuilt(govctl, factory, cache_dir, monkeypatch, how):
    from govctl.history import digest_index as digestindex

    committed(factory, BOB, "2026-10-01T09:00:00Z")
    value = digest(govctl, factory.root, "triage")  # approved in that very commit
    reference = _trace(govctl, factory.root, value)
    assert json.loads(reference.stdout)["approvals"]
    entry = only_file(cache_dir, "digests", "*.json")
    good = json.loads(entry.read_bytes())
    raw = entry.read_bytes()
    entry.write_bytes(CORRUPT_DOCUMENTS[how](raw) if how in CORRUPT_DOCUMENTS
                      else json.dumps(INDEX_DAMAGE[how](json.loads(raw))).encode())
    builds = counting(monkeypatch, digestindex, "build")
    again = _trace(govctl, factory.root, value)
    assert again.stdout == reference.stdout
    assert len(builds) == 1
    assert json.loads(entry.read_bytes()) == good


def test_unshallowing_rebuilds_the_digest_index(govctl, factory, cache_dir, tmp_path):
    """Same HEAD, more history: an index built on a shallow clone must not be reused."""
    origin = factory.root
    committed(factory, BOB, "2026-10-01T09:00:00Z")
    value = digest(govctl, origin, "triage")
    first = git(origin, "rev-parse", "HEAD").strip()
    for day in ("02", "03"):
        factory.write("runbooks/triage.md", f"# Triage runbook\nRevised on October {day}.\n")
        commit(origin, DAVE, f"2026-10-{day}T09:00:00Z", f"edit {day}")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", "--depth", "1", f"file://{origin}", str(clone)],
                   check=True, capture_output=True)
    shallow = govctl("trace", value, "--root", clone, "--format", "json")
    assert shallow.code == 2  # the digest's first commit is cut off from this clone
    assert "shallow" in shallow.stderr
    git(clone, "fetch", "-q", "--unshallow")
    full = _trace(govctl, clone, value)
    assert json.loads(full.stdout)["first_commit"]["sha"] == first
    assert len(files_of(cache_dir, "digests", "*.json")) == 2


def test_sealed_code_round_trips():
    code = "def validate(data, custom_formats={}, name_prefix=None):\n    return data\n"
    assert compiled._unsealed(compiled._sealed(code)) == code
    sealed = compiled._sealed(code)
    assert compiled._unsealed(sealed.replace("return data", "return None")) is None
    assert compiled._unsealed(code) is None
    assert compiled._unsealed(None) is None
    digest_line = sealed.split("\n", 1)[0]
    assert digest_line.endswith(hashlib.sha256(code.encode()).hexdigest())


def test_rules_read_only_the_as_of_day():
    """The result cache is keyed by the as-of UTC *day*: a rule that read the time of day
    (``ctx.as_of``) would be answered from an entry computed at another hour."""
    import ast

    rules = Path(repository.__file__).parent / "rules"
    readers = []
    for path in sorted(rules.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        allowed = {id(node) for fn in ast.walk(tree)
                   if isinstance(fn, ast.FunctionDef) and fn.name == "today"
                   for node in ast.walk(fn)}
        readers += [f"{path.name}:{node.lineno}" for node in ast.walk(tree)
                    if isinstance(node, ast.Attribute) and node.attr == "as_of"
                    and id(node) not in allowed]
    assert readers == [], "key the result cache by the instant, not the day"


def test_json_written_in_pieces_is_one_json_document():
    files = {"k1": [[["Model", "m", 0, 1, {"a": "é\udcff", "b": [1, 2.5, None]}, True]], []],
             "k2": [[], [["GOV001", "error", "f.yaml", 1, 1, None, "m"]]]}
    assert json.loads(b"".join(cache.json_pieces({"root": "/r"}, {"files": files.items()}))
                      ) == {"root": "/r", "files": files}
    assert json.loads(b"".join(cache.json_pieces({"root": "/r"}, {"files": {}.items()}))
                      ) == {"root": "/r", "files": {}}
    assert json.loads(b"".join(cache.json_pieces({}, {"a": iter([("x", 1)]), "b": []}))
                      ) == {"a": {"x": 1}, "b": {}}
    assert json.loads(b"".join(cache.json_pieces({"n": 3}, {}))) == {"n": 3}


def test_a_history_writes_its_parse_cache_once_when_it_closes(govctl, factory, cache_dir,
                                                              monkeypatch):
    from govctl.history.git import GitHistory

    _history_repo(govctl, factory)
    shutil.rmtree(cache_dir)  # (what _history_repo's runs cached)
    writes = counting(monkeypatch, cache, "write_bytes")
    with GitHistory(factory.root) as history:
        for rev in ("HEAD~1", "HEAD"):
            load_repository(history.tree_source(rev))
        assert not [w for w in writes if w[0] == "parse"]  # not yet: the history is open
    assert [w[0] for w in writes].count("parse") == 1
    entry = parse_document(only_file(cache_dir, "parse").read_bytes())
    # both revisions' files, the contract in both versions among them
    contracts = [k for k in entry["files"] if entry["files"][k][0]
                 and entry["files"][k][0][0][0] == "ThresholdContract"]
    assert len(contracts) == 2

    # a diff loads both revisions and more (the stale approval's approved revision): from
    # an empty cache, every parse is new, and the cache is still written once
    shutil.rmtree(cache_dir)
    writes.clear()
    loads = counting(monkeypatch, repository, "_read_files")
    result = govctl("diff", "HEAD~1", "HEAD", "--root", factory.root, "--format", "json")
    assert result.code in (0, 1), result.stderr
    assert len(loads) >= 2
    assert [w[0] for w in writes].count("parse") == 1


def test_a_parse_cache_of_the_working_tree_alone_is_written_at_once(factory, cache_dir,
                                                                    monkeypatch):
    factory.build()
    writes = counting(monkeypatch, cache, "write_bytes")
    load_repository(WorktreeSource(factory.root))
    assert [w[0] for w in writes].count("parse") == 1
