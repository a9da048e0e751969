"""Long fuzzing campaign for govctl's hostile-input surface (see fuzz/README.md).

The pytest suite (tests/test_fuzz.py) runs the same properties with a small, fixed budget
so CI stays fast; this script runs them for as long as you like:

    python fuzz/run.py loader --minutes 10          # grammar-built YAML → loader.load_bytes
    python fuzz/run.py validate --minutes 10        # mutated example repo → govctl validate
    python fuzz/run.py observations --minutes 5     # garbage observation files
    python fuzz/run.py all --minutes 30             # the three above, time split evenly
    python fuzz/run.py atheris -- -max_total_time=600   # coverage-guided bytes → loader

Every target checks the invariants in tests/fuzz_support.py. Hypothesis targets run in
batches of ``--batch`` examples, each batch with its own seed (printed, so a failure can
be replayed with ``--seed``), until the time or ``--examples`` budget is spent; the first
failure is shrunk by hypothesis, printed, and ends the run with exit status 1.
The atheris target (``pip install atheris``) needs no hypothesis; arguments after ``--``
go to libFuzzer (``-max_total_time``, ``-runs``, a corpus folder).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # for tests.fuzz_support
sys.path.insert(0, str(HERE.parent / "src"))  # an uninstalled checkout works too

os.environ.setdefault("GOVCTL_NO_CACHE", "1")  # a cache hit must not mask a crash
os.environ["GOVCTL_DEBUG"] = "1"  # an internal error raises (and is shrunk), not exit 2

from hypothesis import HealthCheck, given, seed, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from tests import fuzz_support as fs  # noqa: E402

Property = Callable[[], None]


def _settings(examples: int) -> settings:
    return settings(max_examples=examples, deadline=None, database=None,
                    suppress_health_check=list(HealthCheck), print_blob=True)


# -- targets: each returns a property that runs one batch ---------------------------------


class Counter:
    inputs = 0


def loader_target(examples: int) -> Property:
    @_settings(examples)
    @given(fs.yaml_bytes())
    def prop(raw: bytes) -> None:
        Counter.inputs += 1
        fs.check_load(raw)
        fs.check_metamorphic(raw)

    return prop


def _example_copy(workdir: Path) -> tuple[Path, list[str], dict[str, bytes]]:
    """The example repository copied into ``workdir`` (once), its record files, and their
    original bytes (each case writes its mutation, then puts the original back)."""
    root = workdir / "repo"
    if not root.exists():
        shutil.copytree(fs.EXAMPLE_REPO, root)
    files = fs.example_records()
    return root, files, {f: (root / f).read_bytes() for f in files}


def validate_target(examples: int, workdir: Path) -> Property:
    from govctl.cli.main import run

    root, files, originals = _example_copy(workdir)

    @st.composite
    def case(draw: st.DrawFn) -> list[tuple[str, bytes]]:
        chosen = draw(st.lists(st.sampled_from(files), min_size=1, max_size=3, unique=True))
        return [(f, draw(fs.mutations(originals[f]))) for f in chosen]

    @_settings(examples)
    @given(case(), st.sampled_from(("json", "json", "json", "text", "sarif", "github",
                                    "junit")))
    def prop(changes: list[tuple[str, bytes]], fmt: str) -> None:
        Counter.inputs += 1
        for rel, data in changes:
            (root / rel).write_bytes(data)
        try:
            out, err = io.StringIO(), io.StringIO()
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                code = run(["validate", "--root", str(root), "--format", fmt,
                            "--as-of", fs.AS_OF])
            if fmt == "json":
                fs.check_validate_output(code, out.getvalue(), err.getvalue(), root)
            else:
                assert code in (0, 1), (code, err.getvalue())
                if fmt == "sarif":
                    import json

                    json.loads(out.getvalue())
                elif fmt == "junit":
                    import xml.etree.ElementTree as ET

                    ET.fromstring(out.getvalue())
        finally:
            for rel, _ in changes:
                (root / rel).write_bytes(originals[rel])

    return prop


def observations_target(examples: int, workdir: Path) -> Property:
    @_settings(examples)
    @given(fs.observation_texts(),
           st.sampled_from((None, None, "jsonl", "csv", "openmetrics", "prometheus")))
    def prop(case: tuple[str, bytes], fmt: str | None) -> None:
        Counter.inputs += 1
        suffix, raw = case
        fs.check_observations(workdir / f"observations{suffix}", raw, fmt)

    return prop


def output_target(examples: int, workdir: Path) -> Property:
    """Hostile record text through the human- and CI-facing formats (SPEC §3)."""
    from govctl.cli.main import run

    root, files, originals = _example_copy(workdir)

    @st.composite
    def case(draw: st.DrawFn) -> tuple[str, bytes]:
        rel = draw(st.sampled_from(files))
        return rel, draw(fs.hostile_values(originals[rel]))

    @_settings(examples)
    @given(case(), st.sampled_from(fs.OUTPUT_RUNS),
           st.sampled_from(("claims-complaints-agent", "card-fraud-scoring",
                            "member-support-assistant")))
    def prop(change: tuple[str, bytes], run_: tuple[str, str], use_case: str) -> None:
        Counter.inputs += 1
        rel, data = change
        command, fmt = run_
        (root / rel).write_bytes(data)
        try:
            out, err = io.StringIO(), io.StringIO()
            args = [command, *([use_case] if command != "validate" else []), "--root",
                    str(root), "--format", fmt, "--as-of", fs.AS_OF]
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                code = run(args)
            fs.check_output(command, fmt, code, out.getvalue(), err.getvalue())
        finally:
            (root / rel).write_bytes(originals[rel])

    return prop


def campaign(name: str, minutes: float, max_examples: int | None, batch: int,
             first_seed: int) -> int:
    workdir = Path(tempfile.mkdtemp(prefix=f"govctl-fuzz-{name}-"))
    makers: dict[str, Callable[[int], Property]] = {
        "loader": loader_target,
        "validate": lambda n: validate_target(n, workdir),
        "observations": lambda n: observations_target(n, workdir),
        "output": lambda n: output_target(n, workdir),
    }
    started = time.monotonic()
    deadline = started + minutes * 60
    batch_seed = first_seed
    Counter.inputs = 0
    failures: dict[str, int] = {}  # where it failed → the batch seed that shows it
    try:
        while time.monotonic() < deadline and (max_examples is None
                                                or Counter.inputs < max_examples):
            size = batch if max_examples is None else min(batch, max_examples - Counter.inputs)
            prop = seed(batch_seed)(makers[name](size))
            try:
                prop()
            except Exception as exc:
                where = _where(exc)
                if where not in failures:
                    # the traceback carries hypothesis' notes: the shrunk falsifying example
                    traceback.print_exception(exc, file=sys.stdout)
                    failures[where] = batch_seed
                print(f"[{name}] FAILED in batch seed {batch_seed} after {Counter.inputs} "
                      f"inputs: {where} (replay: --seed "
                      f"{batch_seed} --batch {batch} --examples {batch})", flush=True)
            batch_seed += 1
            print(f"[{name}] {Counter.inputs} inputs, {time.monotonic() - started:.0f} s, "
                  f"{len(failures)} distinct failure(s)", flush=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"[{name}] DONE: {Counter.inputs} inputs in {time.monotonic() - started:.0f} s, "
          f"seeds {first_seed}..{batch_seed - 1}, {len(failures)} distinct failure(s)"
          + "".join(f"\n  {where} (seed {s})" for where, s in failures.items()), flush=True)
    return 1 if failures else 0


def _where(exc: BaseException) -> str:
    """Exception type and the innermost frame inside govctl or the invariants (hypothesis
    wraps several distinct failures in one ExceptionGroup: the first one names it)."""
    inner = getattr(exc, "exceptions", None)  # an ExceptionGroup (Python >= 3.11)
    if isinstance(inner, tuple) and inner and isinstance(inner[0], BaseException):
        exc = inner[0]
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if "govctl" in f.filename or "fuzz_support" in f.filename]
    frame = (ours or frames or [None])[-1]
    place = f"{Path(frame.filename).name}:{frame.lineno}" if frame else "?"
    return f"{type(exc).__name__} at {place}"


# -- atheris --------------------------------------------------------------------------------


def atheris_main(libfuzzer_args: list[str]) -> int:
    try:
        import atheris
    except ImportError:
        print("atheris is not installed: pip install atheris", file=sys.stderr)
        return 2
    # govctl.model.loader is already imported (through tests.fuzz_support), so instrument_imports
    # would see nothing new: instrument what is loaded, for coverage feedback
    atheris.instrument_all()
    corpus = Path(tempfile.mkdtemp(prefix="govctl-atheris-seeds-"))
    for i, path in enumerate(sorted(fs.EXAMPLE_REPO.rglob("*.yaml"))):
        shutil.copy(path, corpus / f"seed-{i}.yaml")

    def one_input(data: bytes) -> None:
        fs.check_load(data)
        fs.check_metamorphic(data)

    args = [sys.argv[0], *libfuzzer_args]
    if not any(not a.startswith("-") for a in libfuzzer_args):
        args.append(str(corpus))  # default corpus: the example records
    atheris.Setup(args, one_input)
    atheris.Fuzz()
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("target", choices=("loader", "validate", "observations", "output", "all",
                                           "atheris"))
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--examples", type=int, default=None,
                        help="stop after this many inputs (per target)")
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("libfuzzer", nargs="*", help="after --: libFuzzer arguments")
    args = parser.parse_args()
    if args.target == "atheris":
        return atheris_main(args.libfuzzer)
    names = (["loader", "validate", "observations", "output"] if args.target == "all"
             else [args.target])
    status = 0
    for name in names:
        status |= campaign(name, args.minutes / len(names), args.examples, args.batch,
                           args.seed)
    return status


if __name__ == "__main__":
    sys.exit(main())
