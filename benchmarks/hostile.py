"""Hostile input: time and peak memory of the commands a pull request can make govctl read.

    python benchmarks/hostile.py [--keep DIR] [--timeout 120]

Builds two small git repositories (two use cases from ``generate.py``) in a temporary
folder, each with one hostile record file committed on top:

* **duplicate keys**: ``models/dup.yaml``, one record whose ``spec`` repeats the key ``a``
  in about 5 MiB (just under the size limit) — some 870,000 GOV002 findings if every one
  were kept;
* **1 GiB blob**: ``models/huge.yaml``, a 1 GiB record (the same repeated key) committed
  with ``git fast-import`` (a few MB in ``.git``; the 1 GiB is streamed, never held or
  written out). The working tree holds it as a sparse file (no disk used), which git is
  told to ignore (``--skip-worktree``).

For each it runs ``validate``, ``diff HEAD~1 HEAD``, ``history uc-00000`` and
``trace <digest of b-00000>`` in a fresh process with an empty user cache and prints the
wall-clock seconds and the peak resident memory (the child's ``ru_maxrss`` from
``wait4``, which includes the git processes it ran) as a Markdown table. SPEC §3: each must
stay under 300 MB (and, by issue 14, finish in under 10 s).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import generate  # noqa: E402
from run import govctl_command  # noqa: E402

MIB = 1024 * 1024
LIMIT = 5 * MIB  # loader.MAX_FILE_SIZE
HEADER = b"apiVersion: govctl/v1\nkind: Model\nmetadata: {id: hostile}\nspec:\n"
LINE = b"  a: 1\n"
HUGE = 1024 * MIB
ENV = {"GIT_AUTHOR_NAME": "Mallory", "GIT_AUTHOR_EMAIL": "mallory@example.test",
       "GIT_COMMITTER_NAME": "Mallory", "GIT_COMMITTER_EMAIL": "mallory@example.test",
       "GIT_AUTHOR_DATE": "2026-11-01T10:00:00Z", "GIT_COMMITTER_DATE": "2026-11-01T10:00:00Z"}


def git(root: Path, *args: str, data: bytes | None = None) -> str:
    return subprocess.run(["git", *args], cwd=root, input=data, capture_output=True,
                          check=True, env={**os.environ, **ENV}).stdout.decode()


def base_repo(root: Path) -> None:
    """Two valid use cases, committed."""
    root.mkdir(parents=True)
    generate.write_tree(root, generate.generate_tree(2))
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "governance records")


def duplicate_keys(root: Path) -> None:
    base_repo(root)
    repeats = (LIMIT - len(HEADER) - 1) // len(LINE)
    (root / "models" / "dup.yaml").write_bytes(HEADER + LINE * repeats)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "a record of repeated keys")


def huge_blob(root: Path) -> None:
    """A 1 GiB record committed through fast-import, streamed in 1 MiB pieces."""
    base_repo(root)
    path = "models/huge.yaml"
    chunk = LINE * (MIB // len(LINE))
    body = HUGE - len(HEADER)
    stamp = "1793527200 +0000"
    # (compression level 1: twice as fast as the default on this input, still a few MB)
    with subprocess.Popen(["git", "-c", "core.compression=1", "-c", "pack.compression=1",
                           "fast-import", "--quiet"], cwd=root, stdin=subprocess.PIPE) as proc:
        assert proc.stdin is not None
        proc.stdin.write(b"commit refs/heads/main\n"
                         b"author Mallory <mallory@example.test> " + stamp.encode() + b"\n"
                         b"committer Mallory <mallory@example.test> " + stamp.encode() + b"\n"
                         b"data 16\na 1 GiB record\n\n"
                         b"from refs/heads/main^0\n"
                         b"M 100644 inline " + path.encode() + b"\n"
                         b"data %d\n" % HUGE + HEADER)
        left = body
        while left:
            piece = chunk[:left]
            proc.stdin.write(piece)
            left -= len(piece)
        proc.stdin.write(b"\n")
        proc.stdin.close()
    if proc.returncode:
        raise SystemExit("git fast-import failed")
    # the index follows HEAD without writing the file; the working tree gets a sparse file
    git(root, "read-tree", "HEAD")
    git(root, "update-index", "--skip-worktree", path)
    with open(root / path, "wb") as handle:
        handle.truncate(HUGE)


def measure(cmd: list[str], cwd: Path, env: dict[str, str], timeout: float
            ) -> tuple[float, float, int | None]:
    """(seconds, peak MB of the child and the processes it waited for, exit code)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env={**os.environ, **env},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = start + timeout
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.perf_counter() > deadline:
            proc.kill()
            pid, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = -9
            return time.perf_counter() - start, usage.ru_maxrss / 1024, None
        time.sleep(0.01)
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    return elapsed, usage.ru_maxrss / 1024, proc.returncode  # ru_maxrss is in KiB on Linux


def digest_of(root: Path, bundle: str) -> str:
    out = subprocess.run([*govctl_command(), "digest", bundle, "--root", str(root)],
                         capture_output=True, text=True, env={**os.environ,
                                                              "GOVCTL_NO_CACHE": "1"})
    return out.stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="build the repositories here and keep them")
    parser.add_argument("--timeout", type=float, default=120.0,
                        help="seconds before a command is stopped (shown as >TIMEOUT)")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="govctl-hostile-"))
    try:
        rows = []
        for name, build in (("duplicate keys (5 MiB)", duplicate_keys),
                            ("1 GiB blob", huge_blob)):
            root = work / build.__name__
            if not (root / "governance.yaml").exists():
                print(f"building {name} …", file=sys.stderr)
                build(root)
            digest = digest_of(root, "b-00000")
            govctl = govctl_command()
            commands = {
                "validate": ["validate", "--as-of", "2026-11-27"],
                "diff": ["diff", "HEAD~1", "HEAD"],
                "history": ["history", "uc-00000"],
                "trace": ["trace", digest],
            }
            for label, command in commands.items():
                cache = tempfile.mkdtemp(prefix="govctl-hostile-cache-")
                try:
                    seconds, peak, code = measure([*govctl, *command, "--root", str(root)],
                                                  root, {"GOVCTL_CACHE_DIR": cache},
                                                  args.timeout)
                finally:
                    shutil.rmtree(cache, ignore_errors=True)
                rows.append((name, label, seconds, peak, code))
                print(f"  {name}: {label} {seconds:.2f} s {peak:.0f} MB exit {code}",
                      file=sys.stderr)
        print("| repository | command | seconds | peak MB | exit |")
        print("|---|---|---|---|---|")
        for name, label, seconds, peak, code in rows:
            shown = f"{seconds:.2f}" if code is not None else f">{args.timeout:.0f}"
            print(f"| {name} | `{label}` | {shown} | {peak:.0f} | "
                  f"{code if code is not None else 'killed'} |")
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
