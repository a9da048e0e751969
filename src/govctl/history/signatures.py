"""Who signed a commit, by key (SPEC §3.4): the repository's Person records at HEAD are the
trust root, never the local git configuration, and never the signer's name or email
(``%GS``, which a key's owner writes themselves).

SSH signatures are verified by git against an allowed-signers file built from every
Person's SSH ``signing_keys``; the key that signed (``%GF``) must be an approver's. An
OpenPGP signature must be good (``%G?`` G, or U: ownertrust is not required) and its key
fingerprint (``%GF``) or primary key fingerprint (``%GP``) an approver's.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from govctl.errors import GovctlError
from govctl.history.git import GitHistory
from govctl.model.keys import SigningKey, signing_key
from govctl.model.records import Record

GOOD_SSH = ("G",)
GOOD_OPENPGP = ("G", "U")


@dataclass(frozen=True)
class Signature:
    state: str  # git's %G?: G good, U good with unknown validity, B bad, E unchecked, N none
    fingerprint: str  # %GF: the signing key ("SHA256:…" for SSH, hex for OpenPGP)
    primary: str  # %GP: the primary key of an OpenPGP subkey
    person: str | None  # the Person whose signing_keys hold the key, for a good signature

    @property
    def shown(self) -> str:
        return f"%G? = {self.state}" + (f", key {self.fingerprint}" if self.fingerprint
                                        else "")


UNSIGNED = Signature("N", "", "", None)


def _keys(people: Iterable[Record]) -> list[tuple[str, SigningKey]]:
    out = []
    for person in people:
        if person.kind != "Person" or not person.valid:
            continue
        for text in person.spec.get("signing_keys") or ():
            key = signing_key(text)
            if key is not None:
                out.append((person.id, key))
    return out


def signatures(history: GitHistory, people: Iterable[Record], shas: Iterable[str]
               ) -> dict[str, Signature]:
    """sha → its signature, checked against the people's keys, in one git process."""
    shas = sorted(set(shas))
    if not shas:
        return {}
    keys = _keys(people)
    ssh = {key.fingerprint: person for person, key in keys if key.kind == "ssh"}
    openpgp = {key.fingerprint: person for person, key in keys if key.kind == "openpgp"}
    fd, allowed = tempfile.mkstemp(prefix="govctl-allowed-signers-", suffix=".txt")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            for person, key in keys:
                if key.kind == "ssh":
                    handle.write(f"{person} {key.identity}\n")
        out = history._run("-c", f"gpg.ssh.allowedSignersFile={allowed}", "log",
                           "--no-walk=unsorted", "--format=%H%x1f%G?%x1f%GF%x1f%GP", *shas,
                           "--")
    except GovctlError:
        return {sha: Signature("E", "", "", None) for sha in shas}
    finally:
        os.unlink(allowed)
    found: dict[str, Signature] = {}
    for line in out.decode("utf-8", "replace").splitlines():
        fields = line.split("\x1f")
        if len(fields) != 4 or not fields[0]:
            continue
        sha, state, fingerprint, primary = (f.strip() for f in fields)
        state = state or "N"
        person = None
        if fingerprint.startswith("SHA256:"):
            if state in GOOD_SSH:
                person = ssh.get(fingerprint)
        elif state in GOOD_OPENPGP:
            person = openpgp.get("".join(fingerprint.split()).upper()) or \
                openpgp.get("".join(primary.split()).upper())
        found[sha] = Signature(state, fingerprint, primary, person)
    return found


def signed_by_approver(signature: Signature | None, approval: Record) -> bool:
    """The commit carries a good signature by a key of one of the approval's approvers."""
    if signature is None or signature.person is None:
        return False
    return signature.person in {a.get("person") for a in approval.spec.get("approvers") or ()
                                if isinstance(a, Mapping)}


def people_at(history: GitHistory, rev: str = "HEAD") -> list[Record]:
    """The Person records as committed at ``rev``: the trust root of signatures."""
    from govctl.model.repository import load_repository

    try:
        sha = history.resolve(rev)
    except GovctlError:
        return []
    # only the files that may hold a Person: exact for them (load_repository's words)
    return load_repository(history.tree_source(sha), words=frozenset({"Person"})
                           ).of_kind("Person")
