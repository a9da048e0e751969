"""govctl's benchmarks: one run, one table, ratios against the floor and against peers.

    python benchmarks/run.py [--sizes 200,2000,10000] [--commits 5000,50000] [--repeat 3]
                             [--timeout 600] [--monorepo 5000:50000]

Every figure is the best of ``--repeat`` runs of a fresh process (wall clock), so Python's
start-up is in every number, the floors' included. Measured on the same files in one run:

* govctl validate, cold (empty user cache) and warm (nothing changed since the last run);
* the floor: parsing the same files with libyaml (``yaml.CSafeLoader``) in one Python
  process, and reading their bytes;
* check-jsonschema validating only the record envelope (what a user would pick instead for
  a pre-commit schema check), when installed (``pip install check-jsonschema``);
* ``govctl --version`` / ``--help`` start-up;
* on repositories with each of ``--commits`` commits, every history command's first run
  (empty user cache) and peak memory: ``trace``, ``history``, ``diff`` across 1,000 commits,
  ``validate --history``, ``audit-pack --all`` (and ``trace`` warm), beside the bare
  ``git log --raw`` over the same history; with ``--monorepo G:T``, the same in a
  repository of T commits where the governance root is a folder that G of them touch;
* ``status`` over N × 5 observations.

Results go to stdout (markdown) and ``benchmarks/out/results.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import generate  # noqa: E402

OUT = HERE / "out"
ENVELOPE = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {"apiVersion": {"const": "govctl/v1"},
                   "kind": {"type": "string"},
                   "metadata": {"type": "object", "required": ["id"],
                                "properties": {"id": {"type": "string"}}},
                   "spec": {"type": "object"}},
}
FLOOR_PARSE = """
import sys, os, yaml
n = 0
for folder, dirs, files in os.walk(sys.argv[1]):
    dirs[:] = [d for d in dirs if not d.startswith('.')]
    for name in files:
        if name.endswith(('.yaml', '.yml')):
            with open(os.path.join(folder, name), 'rb') as handle:
                n += len(list(yaml.load_all(handle.read(), Loader=yaml.CSafeLoader)))
print(n)
"""
FLOOR_READ = """
import sys, os
n = 0
for folder, dirs, files in os.walk(sys.argv[1]):
    dirs[:] = [d for d in dirs if not d.startswith('.')]
    for name in files:
        if name.endswith(('.yaml', '.yml')):
            with open(os.path.join(folder, name), 'rb') as handle:
                n += len(handle.read())
print(n)
"""


def govctl_command() -> list[str]:
    found = shutil.which("govctl") or str(Path(sys.executable).parent / "govctl")
    return [found] if Path(found).exists() else [sys.executable, "-m", "govctl"]


TIMEOUT = 600.0  # seconds; a command stopped after it is reported as "> TIMEOUT"


def run_once(cmd: list[str], cwd: Path | None, env: dict | None) -> tuple[float, float]:
    """(wall seconds, peak MB) of one fresh process; the peak is ``ru_maxrss`` from
    ``wait4``: the largest of the child and of the processes it waited for (git's). A
    process still running after TIMEOUT is stopped: (inf, its peak so far)."""
    with tempfile.TemporaryFile() as errors:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, env={**os.environ, **(env or {})},
                                stdout=subprocess.DEVNULL, stderr=errors)
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() - start > TIMEOUT:
                proc.kill()
                _, status, usage = os.wait4(proc.pid, 0)
                return float("inf"), usage.ru_maxrss / 1024
            time.sleep(0.01)
        elapsed = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode not in (0, 1):
            errors.seek(0)
            raise SystemExit(f"{' '.join(map(str, cmd))} failed ({proc.returncode}): "
                             f"{errors.read().decode()[-500:]}")
    return elapsed, usage.ru_maxrss / 1024  # KiB on Linux


def timed(cmd: list[str], repeat: int, cwd: Path | None = None, env: dict | None = None,
          before: object = None, peaks: list[float] | None = None) -> float:
    """Best wall time of ``repeat`` runs; ``before()`` runs (untimed) before each; each
    run's peak MB is appended to ``peaks``."""
    best = float("inf")
    for _ in range(repeat):
        if callable(before):
            before()
        elapsed, peak = run_once(cmd, cwd, env)
        if peaks is not None:
            peaks.append(peak)
        best = min(best, elapsed)
    return best


def repo_of(n: int, commits: int = 0, other: int = 0) -> Path:
    """The governance root of a generated repository: with ``other`` unrelated commits,
    the folder ``governance/`` of a monorepo (see ``generate.fast_import``)."""
    top = OUT / (f"repo-{n}" + (f"-{commits}c" if commits else "")
                 + (f"-{other}o" if other else ""))
    root = top / "governance" if other else top
    if not (root / "governance.yaml").exists():
        shutil.rmtree(top, ignore_errors=True)
        top.mkdir(parents=True)
        if commits:
            generate.fast_import(top, n, commits, other=other,
                                 prefix="governance/" if other else "")
        else:
            generate.write_tree(top, generate.generate_tree(n))
    return root


def observations(root: Path, n: int) -> Path:
    path = OUT / f"observations-{n}.jsonl"
    if not path.exists():
        signals = [("latency", "p95_latency_ms", 1800), ("accuracy_proxy", "acceptance", 0.9),
                   ("drift", "psi", 0.1), ("abuse", "injection_rate", 0.001),
                   ("fallback", "handoff_rate", 0.1)]
        with path.open("w") as handle:
            for i in range(n):
                for signal, metric, value in signals:
                    handle.write(json.dumps({"use_case": f"uc-{i:05d}", "signal": signal,
                                             "metric": metric, "value": value,
                                             "at": "2026-11-27T11:00:00Z"}) + "\n")
    return path


def validate_row(n: int, repeat: int, cjs_max: int) -> dict:
    root = repo_of(n)
    govctl = govctl_command()
    files = [str(p) for p in root.rglob("*.yaml")]
    cache = Path(tempfile.mkdtemp(prefix="govctl-bench-cache-"))

    def empty_cache() -> None:
        shutil.rmtree(cache, ignore_errors=True)

    cmd = [*govctl, "validate", "--root", str(root), "--as-of", "2026-11-27"]
    row = {"n": n, "files": len(files)}
    peaks: list[float] = []
    row["cold"] = timed(cmd, repeat, env={"GOVCTL_CACHE_DIR": str(cache)}, before=empty_cache,
                        peaks=peaks)
    row["cold_mb"] = max(peaks)
    timed(cmd, 1, env={"GOVCTL_CACHE_DIR": str(cache)})  # fill it
    row["warm"] = timed(cmd, repeat, env={"GOVCTL_CACHE_DIR": str(cache)})
    row["floor_parse"] = timed([sys.executable, "-c", FLOOR_PARSE, str(root)], repeat)
    row["floor_read"] = timed([sys.executable, "-c", FLOOR_READ, str(root)], repeat)
    cjs = shutil.which("check-jsonschema") or str(Path(sys.executable).parent /
                                                  "check-jsonschema")
    if Path(cjs).exists() and n <= cjs_max:
        schema = OUT / "envelope.json"
        schema.write_text(json.dumps(ENVELOPE))
        row["check_jsonschema"] = timed([cjs, "--schemafile", str(schema), *files],
                                        1 if n > 500 else repeat)
    obs = observations(root, n)
    status = [*govctl, "status", "--root", str(root), "--observations", str(obs),
              "--format", "json", "--as-of", "2026-11-27T12:00:00Z"]
    row["status"] = timed(status, repeat, env={"GOVCTL_CACHE_DIR": str(cache)})
    empty_cache()
    return row


def history_row(n: int, commits: int, repeat: int, other: int = 0) -> dict:
    """Every history command on its first run (empty user cache: a fresh CI runner) and
    peak memory, beside git's own log over the same history (``other``: that many more
    commits outside the governance root, in a monorepo)."""
    root = repo_of(n, commits, other)
    govctl = govctl_command()
    cache = Path(tempfile.mkdtemp(prefix="govctl-bench-cache-"))
    env = {"GOVCTL_CACHE_DIR": str(cache)}
    first = subprocess.run(["git", "log", "--reverse", "--format=%H", "--",
                            "approvals/uc-00100-2026-10-15.yaml"], cwd=root,
                           capture_output=True, text=True, check=True).stdout.split()[0]
    old = subprocess.run(["git", "show", f"{first}:./approvals/uc-00100-2026-10-15.yaml"],
                         cwd=root, capture_output=True, text=True, check=True).stdout
    digest = next(part.strip('"},') for part in old.split() if part.startswith('"sha256:'))
    packs = Path(tempfile.mkdtemp(prefix="govctl-bench-pack-"))

    def empty_cache() -> None:
        shutil.rmtree(cache, ignore_errors=True)
        shutil.rmtree(packs / "pack", ignore_errors=True)

    commands = {
        "trace": ["trace", digest],
        "history": ["history", "uc-00100", "--format", "json"],
        "diff": ["diff", "HEAD~1000", "HEAD", "--format", "json"],
        "validate_history": ["validate", "--history", "--as-of", "2026-11-27"],
        "audit_pack": ["audit-pack", "--all", "-o", str(packs / "pack"), "--as-of",
                       "2026-11-27"],
    }
    row: dict = {"n": n, "commits": commits, "other": other}
    for name, args in commands.items():
        print(f"  {name} …", file=sys.stderr)
        peaks: list[float] = []
        cmd = [*govctl, *args, "--root", str(root)]
        # the expensive ones once: a pack of 2,000 use cases is minutes of work
        times = 1 if name in ("audit_pack", "validate_history") else repeat
        row[name] = timed(cmd, times, env=env, before=empty_cache, peaks=peaks)
        row[f"{name}_mb"] = max(peaks)
    warm = [*govctl, "trace", digest, "--root", str(root)]
    timed(warm, 1, env=env)  # builds the digest index of HEAD
    row["trace_warm"] = timed(warm, repeat, env=env)
    row["git_log"] = timed(["git", "log", "--raw", "--no-abbrev", "--", "."], repeat, cwd=root)
    row["git_log_first_parent"] = timed(["git", "log", "--raw", "--no-abbrev", "-z",
                                         "--first-parent", *(["--", "."] if other else [])],
                                        repeat, cwd=root)
    empty_cache()
    shutil.rmtree(packs, ignore_errors=True)
    return row


def compile_bytecode() -> None:
    """Every installed govctl runs from compiled bytecode (pip compiles at install, Python
    on first import). An editable install under ``PYTHONDONTWRITEBYTECODE`` (set on some
    CI runners and sandboxes) would compile every module again in every run: 0.15 s of
    each figure that no user pays."""
    import compileall
    import importlib.util

    spec = importlib.util.find_spec("govctl")
    if spec is not None and spec.origin is not None:
        compileall.compile_dir(Path(spec.origin).parent, quiet=1)


def machine() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    git = subprocess.run(["git", "--version"], capture_output=True, text=True).stdout.strip()
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "os": f"{platform.system()} {platform.release()}", "git": git}


def fmt(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    return f"> {TIMEOUT:.0f} s" if seconds == float("inf") else f"{seconds:.2f} s"


def ratio(a: float | None, b: float | None) -> str:
    if a is None or b is None or float("inf") in (a, b):
        return "—"
    return f"{a / b:.2f}×"


def commits_cell(h: dict) -> str:
    other = h.get("other", 0)
    return (f"{h['commits']:,} of {h['commits'] + other:,} (monorepo)" if other
            else f"{h['commits']:,}")


def report(results: dict) -> str:
    m = results["machine"]
    lines = [f"Machine: {m['cpu']}, {m['cores']} cores, Python {m['python']}, {m['os']}, "
             f"{m['git']}. Best of {results['repeat']} fresh processes, wall clock.", "",
             "| use cases | record files | validate cold | validate warm | libyaml floor | "
             "read floor | check-jsonschema | cold / libyaml | warm / read | "
             "check-jsonschema / cold | status (N×5 obs.) | peak MB (cold) |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results["validate"]:
        cjs = r.get("check_jsonschema")
        lines.append(
            f"| {r['n']:,} | {r['files']:,} | {fmt(r['cold'])} | {fmt(r['warm'])} | "
            f"{fmt(r['floor_parse'])} | {fmt(r['floor_read'])} | {fmt(cjs)} | "
            f"{ratio(r['cold'], r['floor_parse'])} | {ratio(r['warm'], r['floor_read'])} | "
            f"{ratio(cjs, r['cold'])} | {fmt(r['status'])} | {r['cold_mb']:.0f} |")
    s = results["startup"]
    lines += ["", f"Start-up: `govctl --version` {s['version'] * 1000:.0f} ms, "
                  f"`govctl --help` {s['help'] * 1000:.0f} ms.", ""]
    history = results.get("history", [])
    if history:
        lines += ["History: first run (empty user cache), seconds and peak MB; `git log` is "
                  "`git log --raw --no-abbrev -- .` (first parent: `--first-parent -z`).", "",
                  "| use cases | commits | trace | trace (warm) | history | diff (1,000 commits) "
                  "| validate --history | audit-pack --all | git log --raw | "
                  "(--first-parent) | trace / git log | history / git log |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for h in history:
        def cell(name: str, h: dict = h) -> str:
            return f"{fmt(h[name])}, {h[name + '_mb']:.0f} MB"
        lines.append(
            f"| {h['n']:,} | {commits_cell(h)} | {cell('trace')} | {fmt(h['trace_warm'])} | "
            f"{cell('history')} | {cell('diff')} | {cell('validate_history')} | "
            f"{cell('audit_pack')} | {fmt(h['git_log'])} | {fmt(h['git_log_first_parent'])} | "
            f"{ratio(h['trace'], h['git_log'])} | {ratio(h['history'], h['git_log'])} |")
    return "\n".join(lines)


def main() -> None:
    global TIMEOUT
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="200,2000,10000")
    parser.add_argument("--commits", default="5000,50000",
                        help="history lengths to measure, comma-separated (0: none)")
    parser.add_argument("--monorepo", default="",
                        help="G:T — also a monorepo of T commits, G of them touching its "
                             "governance root (governance/), e.g. 5000:50000")
    parser.add_argument("--history-size", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=600.0,
                        help="stop a command after this many seconds (reported as such)")
    parser.add_argument("--check-jsonschema-max", type=int, default=2000,
                        help="largest N to run check-jsonschema on (it is slow)")
    args = parser.parse_args()
    TIMEOUT = args.timeout
    OUT.mkdir(exist_ok=True)
    compile_bytecode()
    govctl = govctl_command()
    results: dict = {"machine": machine(), "repeat": args.repeat, "validate": []}
    results["startup"] = {"version": timed([*govctl, "--version"], 5),
                          "help": timed([*govctl, "--help"], 5)}
    for n in (int(x) for x in args.sizes.split(",") if x):
        print(f"validate, N = {n} …", file=sys.stderr)
        results["validate"].append(validate_row(n, args.repeat, args.check_jsonschema_max))
    results["history"] = []
    for commits in (int(x) for x in args.commits.split(",") if x and int(x)):
        print(f"history, {commits} commits …", file=sys.stderr)
        results["history"].append(history_row(args.history_size, commits, args.repeat))
    if args.monorepo:
        touching, total = (int(x) for x in args.monorepo.split(":"))
        print(f"history, monorepo: {touching} of {total} commits …", file=sys.stderr)
        results["history"].append(history_row(args.history_size, touching, args.repeat,
                                              other=total - touching))
    (OUT / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    print(report(results))


if __name__ == "__main__":
    main()
