"""SSH signatures of an audit pack's manifest (SPEC §4).

``audit-pack --sign KEYFILE`` signs ``manifest.json`` with ``ssh-keygen -Y sign -n
govctl-audit-pack`` — the SSH keys engineers already sign commits with — into
``manifest.json.sig``; ``verify --allowed-signers FILE`` checks it with ``ssh-keygen -Y
find-principals`` and ``ssh-keygen -Y verify``, and says who signed.

ssh-keygen is taken from an absolute PATH entry only (never the current directory: a pack
unpacked there may ship one) and runs without a shell, in a session of its own with no
terminal and no askpass program, so it can never wait for a passphrase (a key that needs
one and is not loaded in ssh-agent is an error), and within a deadline. A signature read
from a pack is untrusted input: the caller reads it size-bounded and it is written here
into a private temporary folder, never used in place; the manifest goes to ssh-keygen on
standard input — the very bytes verify hashed and parsed.
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from govctl.documents.manifest import SIGNATURE
from govctl.errors import GovctlError
from govctl.model.atomic import reason
from govctl.model.programs import find_program, program_environment

NAMESPACE = "govctl-audit-pack"  # ssh-keygen -n: a commit signature (namespace git) never passes
SIGNATURE_LIMIT = 64 << 10  # bytes: an SSH signature is a few KiB even for RSA-16384
ALLOWED_SIGNERS_LIMIT = 1 << 20  # bytes of an allowed-signers file read at most
DEADLINE = 120.0  # seconds for one ssh-keygen run (a hardware key waits for a touch)
_PRINCIPALS = 32  # principals of one key tried at most

# `ssh-keygen -lf`: "256 SHA256:… comment (ED25519)"
_LISTED = re.compile(r"(?P<bits>\d+) (?P<fingerprint>SHA256:\S+) ?(?P<comment>.*?) "
                     r"\((?P<kind>[^()\s]+)\)")
# `ssh-keygen -Y verify` / `-Y check-novalidate` on success
_GOOD = re.compile(r'Good "' + re.escape(NAMESPACE) + r'" signature (?:for .+ )?with '
                   r"(?P<kind>\S+) key (?P<fingerprint>SHA256:\S+)")

GOOD = "good"  # a good signature by a key of the allowed-signers file
BAD = "bad"  # --allowed-signers given: not a good signature by a listed key
MISSING = "missing"  # --allowed-signers given, and the pack holds no signature
UNCHECKED = "unchecked"  # the pack holds a signature; nobody asked to check it
UNSIGNED = "unsigned"  # no signature, and none asked for


@dataclass(frozen=True)
class Signer:
    """The key `audit-pack --sign` names, as ``ssh-keygen -lf`` describes it."""

    path: Path  # absolute
    fingerprint: str  # SHA256:…
    kind: str  # ED25519, RSA, ECDSA, …
    comment: str

    @property
    def shown(self) -> str:
        return f"{self.kind} key {self.fingerprint}" + (
            f" ({self.comment})" if self.comment and self.comment != "no comment" else "")


@dataclass(frozen=True)
class AllowedSigners:
    """An allowed-signers file (OpenSSH format, as git uses): ``<principals> <key>`` lines."""

    path: Path  # as given, for messages
    text: bytes


@dataclass(frozen=True)
class SignatureCheck:
    state: str  # GOOD, BAD, MISSING, UNCHECKED or UNSIGNED
    signer: str | None = None  # the principal of the allowed-signers file whose key signed
    key: str | None = None  # "ED25519 key SHA256:…"
    problem: str | None = None  # why it is BAD or MISSING

    @property
    def good(self) -> bool:
        return self.state == GOOD

    @property
    def by(self) -> str | None:
        """Who signed, for a sentence: the principal, or — when it is a pattern or a list
        (``*@acme.test``, ``a@x,b@y``), which names no one person — the key's listing."""
        if self.signer is None:
            return None
        if any(c in self.signer for c in "*?,"):
            return f"a key listed for {self.signer}"
        return self.signer

    def json(self) -> dict[str, Any]:
        return {"file": SIGNATURE, "state": self.state, "signer": self.signer,
                "key": self.key, "problem": self.problem}


NO_SIGNATURE = SignatureCheck(UNSIGNED)


# -- running ssh-keygen ----------------------------------------------------------------------


def _ssh_keygen(what: str) -> str:
    path = find_program("ssh-keygen")
    if path is None:
        raise GovctlError(f"{what} needs ssh-keygen (OpenSSH 8.2 or later), which is not in "
                          "a folder on PATH (only absolute PATH entries count)")
    return path


def _environment() -> dict[str, str]:
    """No askpass program and no display: ssh-keygen cannot ask anyone for a passphrase.
    SSH_AUTH_SOCK stays, so a key loaded in ssh-agent signs as it does for git; PATH keeps
    its absolute entries only."""
    env = {k: v for k, v in program_environment().items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "SSH_ASKPASS")}
    env.update(SSH_ASKPASS_REQUIRE="never", LC_ALL="C", LANG="C")
    return env


def _run(what: str, *args: str, data: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    """ssh-keygen with ``args`` (a list, never a shell) and ``data`` on standard input, in a
    new session: without a controlling terminal it cannot prompt."""
    try:
        return subprocess.run([_ssh_keygen(what), *args], input=data, capture_output=True,
                              env=_environment(), start_new_session=True, timeout=DEADLINE,
                              check=False)
    except subprocess.TimeoutExpired:
        raise GovctlError(f"{what}: ssh-keygen did not finish within {DEADLINE:.0f} s"
                          ) from None
    except OSError as exc:
        raise GovctlError(f"{what}: cannot run ssh-keygen ({reason(exc)})") from None


def _lines(raw: bytes) -> list[str]:
    text = raw.decode("utf-8", "replace").replace("\r", "\n")
    return [line.strip() for line in text.splitlines() if line.strip()]


def _detail(proc: subprocess.CompletedProcess[bytes],
            shown: Mapping[str, str] | None = None) -> str:
    """ssh-keygen's own first word on a failure, one line; ``shown`` renames the private
    copies it was given (a path in /tmp) to what the user knows them as."""
    lines = _lines(proc.stderr) or _lines(proc.stdout)
    text = lines[0].removeprefix("Enter passphrase: ") if lines else \
        f"exit status {proc.returncode}"
    for private, public in (shown or {}).items():
        text = text.replace(private, public)
    return f"ssh-keygen: {text[:200]}"


# -- signing ------------------------------------------------------------------------------------


def signer(path: Path) -> Signer:
    """The key ``--sign`` names, checked before anything is built: a regular file that can
    be read and that ssh-keygen takes for a key. (Whether it needs a passphrase shows only
    when it signs: a key loaded in ssh-agent does not.)"""
    what = f"--sign {path}"
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise GovctlError(f"{what}: no such key file") from None
    except OSError as exc:
        raise GovctlError(f"{what}: cannot read the key ({reason(exc)})") from None
    try:
        regular = stat.S_ISREG(os.fstat(fd).st_mode)
    finally:
        os.close(fd)
    if not regular:
        raise GovctlError(f"{what}: not a key file (not a regular file)")
    absolute = Path(os.path.abspath(path))
    proc = _run(what, "-l", "-f", str(absolute))
    listed = _LISTED.fullmatch(proc.stdout.decode("utf-8", "replace").strip())
    if proc.returncode != 0 or listed is None:
        raise GovctlError(f"{what}: not an SSH key ({_detail(proc)})")
    return Signer(absolute, listed["fingerprint"], listed["kind"], listed["comment"].strip())


def sign_manifest(key: Signer, manifest: Path) -> Path:
    """Sign ``manifest`` (in the pack being built); ssh-keygen writes ``<manifest>.sig``
    beside it. The signature is checked at once (``-Y check-novalidate``): it must hold
    for these bytes and be by the key ``ssh-keygen -lf`` described."""
    what = f"--sign {key.path}"
    proc = _run(what, "-Y", "sign", "-f", str(key.path), "-n", NAMESPACE, str(manifest))
    if proc.returncode != 0:
        detail = _detail(proc)
        if "passphrase" in detail.lower():
            raise GovctlError(f"{what}: the key needs a passphrase and govctl never asks for "
                              f"one: load it into ssh-agent (ssh-add {key.path}) or sign "
                              f"with a key without a passphrase ({detail})")
        raise GovctlError(f"{what}: cannot sign {manifest.name} ({detail})")
    signature = manifest.with_name(SIGNATURE)
    check = _run(what, "-Y", "check-novalidate", "-n", NAMESPACE, "-s", str(signature),
                 data=manifest.read_bytes())
    good = _GOOD.search(check.stdout.decode("utf-8", "replace"))
    if check.returncode != 0 or good is None or good["fingerprint"] != key.fingerprint:
        raise GovctlError(f"{what}: the signature ssh-keygen wrote does not check against "
                          f"the key ({_detail(check) if good is None else good[0]})")
    return signature


# -- verifying ----------------------------------------------------------------------------------


def _read_bounded(path: Path, limit: int, what: str) -> bytes:
    """A regular file (after links: it is the verifier's own), at most ``limit`` bytes;
    a pipe or device is refused, never read."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise GovctlError(f"{what}: no such file") from None
    except OSError as exc:
        raise GovctlError(f"{what}: cannot read it ({reason(exc)})") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise GovctlError(f"{what}: not a regular file")
        with os.fdopen(os.dup(fd), "rb") as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        raise GovctlError(f"{what}: cannot read it ({reason(exc)})") from None
    finally:
        os.close(fd)
    if len(data) > limit:
        raise GovctlError(f"{what}: larger than {limit >> 10} KiB")
    return data


def allowed_signers(path: Path) -> AllowedSigners:
    """The ``--allowed-signers`` file, read once (a usage error when it is unreadable or
    lists nobody: an empty file would make every signature "not by a listed key")."""
    what = f"--allowed-signers {path}"
    text = _read_bounded(path, ALLOWED_SIGNERS_LIMIT, what)
    lines = text.decode("utf-8", "replace").splitlines()
    if not any(line.strip() and not line.lstrip().startswith("#") for line in lines):
        raise GovctlError(f"{what}: lists no signer (one line per signer: "
                          "`<email> <public key>`)")
    return AllowedSigners(path, text)


def _private_file(folder: Path, name: str, data: bytes) -> str:
    fd = os.open(folder / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL
                 | getattr(os, "O_NOFOLLOW", 0), 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    return str(folder / name)


def check_signature(manifest: bytes, signature: bytes, allowed: AllowedSigners
                    ) -> SignatureCheck:
    """Whether ``signature`` is a good signature of ``manifest`` in govctl's namespace by
    a key of ``allowed``, and whose: ``-Y find-principals`` names the principals the
    signature's key is listed under, ``-Y verify`` checks it for each in turn."""
    what = f"--allowed-signers {allowed.path}"
    with tempfile.TemporaryDirectory(prefix="govctl-signature-") as scratch:  # (mode 0700)
        folder = Path(scratch)
        sig = _private_file(folder, SIGNATURE, signature)
        signers = _private_file(folder, "allowed_signers", allowed.text)
        shown = {signers: str(allowed.path), sig: SIGNATURE}
        found = _run(what, "-Y", "find-principals", "-s", sig, "-f", signers)
        principals = [line.strip() for line in found.stdout.decode("utf-8", "replace")
                      .splitlines() if line.strip()][:_PRINCIPALS]
        if found.returncode != 0 or not principals:
            return SignatureCheck(BAD, problem=f"{SIGNATURE} is not a signature by a key in "
                                               f"{allowed.path} ({_detail(found, shown)})")
        failures = []
        for principal in principals:
            proc = _run(what, "-Y", "verify", "-f", signers, "-I", principal, "-n", NAMESPACE,
                        "-s", sig, data=manifest)
            good = _GOOD.search(proc.stdout.decode("utf-8", "replace"))
            if proc.returncode == 0 and good is not None:
                return SignatureCheck(GOOD, principal,
                                      f"{good['kind']} key {good['fingerprint']}")
            failures.append(_detail(proc, shown))
    return SignatureCheck(BAD, problem=f"{SIGNATURE} is not a good signature of this "
                                       f"manifest by the key {allowed.path} lists for "
                                       f"{', '.join(principals)} ({failures[-1]})")
