"""Property-based fuzzing with a small, fixed budget (the long campaign is fuzz/run.py).

Profiles (``GOVCTL_FUZZ_PROFILE``): ``ci`` (default: derandomized, so every run tries the
same inputs and CI cannot turn red by luck), ``dev`` (random, more examples; failures are
saved in hypothesis' example database and replayed first next time) and ``long``.
Every property checks the invariants in tests/fuzz_support.py; the regressions below
are the inputs the campaigns found, kept as plain examples.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from govctl.model import loader
from tests import fuzz_support as fs

settings.register_profile("ci", max_examples=150, deadline=None, derandomize=True,
                          database=None, print_blob=True)
settings.register_profile("dev", max_examples=300, deadline=None)
settings.register_profile("long", max_examples=5000, deadline=None)
PROFILE = settings.get_profile(os.environ.get("GOVCTL_FUZZ_PROFILE", "ci"))


def fuzz_settings(share: float = 1.0, **extra: object) -> settings:
    """The chosen profile, with ``share`` of its example budget (slow properties get less).
    The CLI fixtures are function-scoped; each example restores the state it changed."""
    return settings(PROFILE, max_examples=max(10, int(PROFILE.max_examples * share)),
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow, HealthCheck.data_too_large],
                    **extra)


# -- the loader -------------------------------------------------------------------------------


@fuzz_settings()
@given(fs.yaml_bytes())
@example(b"{")  # an unclosed collection at the end of a file without a final line break
@example("a: 😀😀😀\nb: x\x07\n".encode())  # a control character after multi-byte text
@example(b"a: 1\rb: [\r")  # lone-CR line endings
@example("a: 1\x85b: [\rc: {".encode())  # a YAML 1.1 line break beside lone CRs
@example(b"\xef\xbb\xbf\xff")
@example(b"x: " + b"[" * 5000 + b"]" * 5000)
def test_generated_yaml_never_crashes_the_loader(raw: bytes) -> None:
    fs.check_load(raw)


@fuzz_settings(share=0.5)
@given(fs.yaml_documents())
def test_line_endings_and_a_bom_change_nothing(text: str) -> None:
    """LF, CRLF and lone CR are all YAML 1.2 line breaks and a BOM is no content: the same
    document written with any of them has the same values and the same problems at the
    same lines and columns."""
    fs.check_metamorphic(text.encode("utf-8", "surrogatepass"))


# -- validate over mutated copies of the example repository ---------------------------------------


@pytest.fixture(scope="module")
def example_copy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One copy of the example repository for the whole module; each example restores the
    files it mutated."""
    root = tmp_path_factory.mktemp("fuzz") / "repo"
    shutil.copytree(fs.EXAMPLE_REPO, root)
    yield root


RECORDS = fs.example_records()
# the records the claims agent's card and explain show text from
OUTPUT_RECORDS = [r for r in RECORDS if "claims" in r or r.startswith(("people", "teams"))]


@st.composite
def _mutated_files(draw: st.DrawFn, root: Path) -> list[tuple[str, bytes]]:
    chosen = draw(st.lists(st.sampled_from(RECORDS), min_size=1, max_size=2, unique=True))
    return [(rel, draw(fs.mutations((root / rel).read_bytes()))) for rel in chosen]


@fuzz_settings(share=0.7)
@given(data=st.data())
def test_mutated_records_never_crash_validate(example_copy: Path, govctl, monkeypatch,
                                              data: st.DataObject) -> None:
    # caching must not mask a crash (a hit skips the parse); debug makes a crash raise
    monkeypatch.setenv("GOVCTL_NO_CACHE", "1")
    monkeypatch.setenv("GOVCTL_DEBUG", "1")
    changes = data.draw(_mutated_files(example_copy))
    originals = {rel: (example_copy / rel).read_bytes() for rel, _ in changes}
    try:
        for rel, raw in changes:
            (example_copy / rel).write_bytes(raw)
        result = govctl("validate", "--root", example_copy, "--format", "json", "--as-of",
                        fs.AS_OF)
        fs.check_validate_output(result.code, result.stdout, result.stderr, example_copy)
    finally:
        for rel, raw in originals.items():
            (example_copy / rel).write_bytes(raw)


def test_the_unmutated_example_repository_is_clean(example_copy: Path, govctl) -> None:
    """The baseline the mutations start from (so every finding above comes from them)."""
    result = govctl("validate", "--root", example_copy, "--format", "json", "--as-of", fs.AS_OF)
    payload = fs.check_validate_output(result.code, result.stdout, result.stderr, example_copy)
    assert payload["findings"] == []


@fuzz_settings(share=0.3)
@given(data=st.data())
def test_hostile_record_text_reaches_no_output_as_control_or_markup(
        example_copy: Path, govctl, monkeypatch, data: st.DataObject) -> None:
    monkeypatch.setenv("GOVCTL_NO_CACHE", "1")
    rel = data.draw(st.sampled_from(OUTPUT_RECORDS))
    original = (example_copy / rel).read_bytes()
    command, fmt = data.draw(st.sampled_from(fs.OUTPUT_RUNS))
    try:
        (example_copy / rel).write_bytes(data.draw(fs.hostile_values(original)))
        target = ("card", "claims-complaints-agent") if command == "card" else (
            ("explain", "claims-complaints-agent") if command == "explain" else ("validate",))
        result = govctl(*target, "--root", example_copy, "--format", fmt, "--as-of", fs.AS_OF)
        fs.check_output(command, fmt, result.code, result.stdout, result.stderr)
    finally:
        (example_copy / rel).write_bytes(original)


# -- observation files -----------------------------------------------------------------------


@fuzz_settings()
@given(fs.observation_texts(),
       st.sampled_from((None, None, "jsonl", "csv", "openmetrics", "prometheus")))
def test_garbage_observation_files_fail_with_file_and_line(tmp_path: Path, case, fmt) -> None:
    suffix, raw = case
    fs.check_observations(tmp_path / f"observations{suffix}", raw, fmt)


# -- regressions found by the campaigns -----------------------------------------------------------


@pytest.mark.parametrize(("text", "line", "column"), [
    ("{", 1, 2),  # libyaml places end-of-stream on a line after the last one
    ("a: [", 1, 5),
    ("a: b\r\nc: {", 2, 5),
    ("{\n", 2, 1),  # after a final line break, the end is the start of the next line
])
def test_end_of_file_errors_point_inside_the_file(text: str, line: int, column: int) -> None:
    (problem,) = loader.load_bytes(text.encode()).problems
    assert (problem.rule, problem.line, problem.column) == ("GOV001", line, column)


@pytest.mark.parametrize(("text", "line", "column"), [
    ("ünï: bell\x07\n", 1, 10),
    ("name: José\nb: x\x00\n", 2, 5),
    ("a: 😀😀😀😀😀😀😀😀😀😀😀\nb: x\x07\n", 2, 5),
])
def test_forbidden_characters_after_multibyte_text_are_placed_right(text: str, line: int,
                                                                    column: int) -> None:
    # libyaml's reader reports a byte offset; marks and every other position count characters
    (problem,) = loader.load_bytes(text.encode()).problems
    assert (problem.rule, problem.line, problem.column) == ("GOV001", line, column)


def test_lone_cr_counts_as_a_line_break_with_or_without_yaml_11_breaks() -> None:
    plain = loader.load_bytes(b"a: 1\rb: 2\rc: !x y\r").problems
    mixed = loader.load_bytes("a: '\x85'\rb: 2\rc: !x y\r".encode()).problems
    assert [(p.rule, p.line, p.column) for p in plain] == [("GOV003", 3, 4)]
    assert [(p.rule, p.line, p.column) for p in mixed] == [("GOV003", 3, 4)]


def test_non_utf8_after_lone_cr_lines_is_placed_on_its_line() -> None:
    (problem,) = loader.load_bytes(b"a: 1\rb: 2\rc: \xff\r").problems
    assert (problem.rule, problem.line, problem.column) == ("GOV004", 3, 4)


def test_csv_observations_with_lone_cr_line_endings(tmp_path: Path) -> None:
    from govctl.errors import GovctlError
    from govctl.monitoring.observations import load_observations

    path = tmp_path / "obs.csv"
    path.write_bytes(b"use_case,signal,value,at\ru,s,1,2026-11-27T06:00:00Z\r"
                     b"u,t,2,2026-11-27T06:00:00Z\r")
    assert [o.signal for o in load_observations(path).observations] == ["s", "t"]
    path.write_bytes(b"use_case,signal,value\ru,s,1\ru,t,oops\r")
    with pytest.raises(GovctlError, match=r"obs\.csv:3: value 'oops' is not a number"):
        load_observations(path)


def test_jsonl_strings_may_hold_unicode_line_separators(tmp_path: Path) -> None:
    from govctl.monitoring.observations import load_observations

    path = tmp_path / "obs.jsonl"
    path.write_text('{"use_case": "u", "signal": "s", "metric": "a\u2028b\x85c", "value": 1, '
                    '"at": "2026-11-27T06:00:00Z"}\n{"use_case": "u", "signal": "t", '
                    '"value": 2, "at": "2026-11-27T06:00:00Z"}\n', encoding="utf-8")
    loaded = load_observations(path).observations
    assert [(o.metric, o.source) for o in loaded] == [("a\u2028b\x85c", f"{path}:1"),
                                                     (None, f"{path}:2")]


@pytest.mark.parametrize("ending", [b"\r", b"\r\n"])
def test_exposition_text_with_cr_line_endings_loses_no_sample(tmp_path: Path,
                                                              ending: bytes) -> None:
    from govctl.monitoring.observations import load_observations

    path = tmp_path / "obs.prom"
    lines = [b'm{use_case="u",signal="s"} 0.5 1795780200000',
             b'm{use_case="u",signal="t"} 0.7 1795780200000']
    path.write_bytes(ending.join(lines) + ending)
    loaded = load_observations(path).observations
    assert [(o.signal, o.value, o.source) for o in loaded] == [
        ("s", 0.5, f"{path}:1"), ("t", 0.7, f"{path}:2")]
    om = tmp_path / "obs.om"
    om.write_bytes(ending.join([b"# TYPE m gauge", b'm{use_case="u",signal="s"} 0.5 1795780200',
                                b"# EOF"]) + ending)
    assert [o.value for o in load_observations(om).observations] == [0.5]


def test_a_sample_line_without_a_name_before_its_labels_is_no_crash(tmp_path: Path) -> None:
    from govctl.errors import GovctlError
    from govctl.monitoring.observations import load_observations

    path = tmp_path / "obs.txt"
    path.write_bytes(b'\r\r# TYPE m gauge\nm\r{use_case="u",signal="s"} 0.5 1795780200\n# EOF\n')
    try:
        load_observations(path, "prometheus")
    except GovctlError as exc:
        assert exc.message.startswith(f"{path}:")


@pytest.mark.parametrize(("suffix", "text"), [
    (".prom", 'm{use_case="u",signal="s"} 1 99999999999999999999999\n'),
    (".prom", 'm{use_case="u",signal="s"} 1 NaN\n'),
    (".om", '# TYPE m gauge\nm{use_case="u",signal="s"} 0.5 ' + "9" * 400 + "\n# EOF\n"),
    (".om", '# TYPE m gauge\nm{use_case="u",signal="s"} ' + "9" * 400 + " 1\n# EOF\n"),
])
def test_exposition_numbers_beyond_a_double_or_a_date_are_a_line_error(tmp_path: Path,
                                                                       suffix: str,
                                                                       text: str) -> None:
    from govctl.errors import GovctlError
    from govctl.monitoring.observations import load_observations

    path = tmp_path / f"obs{suffix}"
    path.write_text(text)
    line = 1 if suffix == ".prom" else 2
    with pytest.raises(GovctlError) as caught:
        load_observations(path)
    assert caught.value.message.startswith(f"{path}:{line}: ")
    assert len(caught.value.message) < len(str(path)) + 120
