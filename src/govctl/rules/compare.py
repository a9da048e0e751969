"""What changed in a bundle or a threshold contract between two revisions, input by input:
its own fields, the files it references (with a text diff), its model's identity, its eval
set and — by name, recursively — its components. Each change says where it is now, so a
stale approval can point at the line that made it stale (SPEC §2 ``related``) and a pull
request review can show the prompt's text instead of two hashes (SPEC §3.1).

One :class:`Comparison` per pair of revisions: a component shared by many bundles (or a
diamond of components) is compared once, each file pair is diffed once, and the nested
changes of all components together are bounded (``MAX_NESTED``), whatever the chains.
The semantic diff (``history.diff``) and the stale-approval messages (``rules.decisions``)
both use it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from govctl.digest.digester import Digester, DigestError, DigestInput
from govctl.model.findings import Related
from govctl.model.records import Record, is_url
from govctl.model.repository import Repository
from govctl.model.textdiff import MAX_TEXT_BYTES, TextDiff, first_changed_line, text_diff
from govctl.rules.changes import (
    LOOSENED,
    NEUTRAL,
    REAPPROVAL,
    FieldChange,
    Where,
    describe,
    field_changes,
)

MAX_DEPTH = 4  # components inside components: deeper chains are named, not opened
MAX_NESTED = 500  # component field changes shown in one comparison, all chains together
MAX_RELATED = 10  # related locations on one finding


@dataclass(frozen=True)
class Revision:
    """One side of a comparison: the records and the digests computed over them."""

    repo: Repository
    digester: Digester


def _size(change: FieldChange) -> int:
    return 1 + sum(_size(c) for c in change.changes)


@dataclass
class Comparison:
    """Compares records of ``old`` and ``new``. ``texts``: diff changed text files (the
    diff command); without, only the first changed line of each is found (the related
    location of a stale approval), which costs no matching."""

    old: Revision
    new: Revision
    texts: bool = True
    _components: dict[tuple[str, str, str], FieldChange] = field(default_factory=dict)
    _files: dict[tuple[str | None, str | None], TextDiff] = field(default_factory=dict)
    _nested: int = 0  # component changes handed out so far (against MAX_NESTED)

    # -- files -------------------------------------------------------------------------------
    def _read(self, rev: Revision, ref: str) -> tuple[bytes | None, str]:
        source = rev.repo.source
        return source.referenced_capped(ref, min(MAX_TEXT_BYTES, source.max_size))

    def file_diff(self, old_ref: str | None, new_ref: str | None) -> TextDiff:
        """The text diff of a referenced file (``None``: not referenced on that side)."""
        key = (old_ref, new_ref)
        found = self._files.get(key)
        if found is None:
            a, why_a = self._read(self.old, old_ref) if old_ref else (None, "")
            b, why_b = self._read(self.new, new_ref) if new_ref else (None, "")
            a_path = old_ref if a is not None else None
            b_path = new_ref if b is not None else None
            if self.texts:
                found = text_diff(a, b, a_path, b_path, why_b or why_a)
            else:
                found = TextDiff(a_path, b_path, note="not diffed",
                                 first_changed=first_changed_line(a, b))
            self._files[key] = found
        return found

    # -- records ---------------------------------------------------------------------------
    def record(self, a: Record, b: Record, digest_only: bool = False) -> list[FieldChange]:
        """The record's own field changes, each placed in ``b``; a file reference that names
        another file carries the text diff of the two files. ``digest_only``: only what a
        digest covers (no ``metadata``, no bundle ``developers``)."""
        out = []
        for change in field_changes(b.kind, a.data, b.data):
            if change.parts and change.parts[0] == "metadata":
                if digest_only:
                    continue
                where = Where(b.file, b.doc, change.parts)
            else:
                if digest_only and b.kind == "Bundle" and change.parts[:1] == ("developers",):
                    continue  # who built it is not what runs (SPEC §1.3)
                where = Where(b.file, b.doc, ("spec", *change.parts))
            old_ref = _file_ref(b.kind, change.parts, change.old)
            new_ref = _file_ref(b.kind, change.parts, change.new)
            diff = self.file_diff(old_ref, new_ref) if old_ref or new_ref else None
            out.append(replace(change, where=where, text_diff=diff))
        return out

    def bundle(self, a: Record, b: Record, digest_only: bool = False, depth: int = 0
               ) -> list[FieldChange]:
        """Everything that changed in a bundle: its fields, then the digest inputs that
        changed without its spec saying so (a file's content, the model's identity, the
        eval set, a component — named, with its own changes nested)."""
        fields = self.record(a, b, digest_only)
        old, new = self.old.digester, self.new.digester
        before = old.try_bundle(a) if a.valid else None
        after = new.try_bundle(b) if b.valid else None
        if before == after:
            return fields  # only a changed digest can have changed inputs (memoised)
        ia = _inputs(old, a) if before is not None else None
        ib = _inputs(new, b) if after is not None else None
        if ia is not None and ib is not None:
            explained = {f.path for f in fields}
            fields += [f for f in self._input_changes(ia, ib, depth) if f.path not in explained]
        if not fields:
            # the digest changed and nothing here says why: an input that can no longer be
            # read (a prompt deleted, a component gone) — never an unchanged bundle
            fields.append(FieldChange("digest", before, after, REAPPROVAL,
                                      where=Where(b.file, b.doc, ("spec",))))
        return fields

    def contract(self, a: Record, b: Record, digest_only: bool = False) -> list[FieldChange]:
        """A contract's field changes, and its runbook file's content when that changed."""
        fields = self.record(a, b, digest_only)
        ref = _runbook(b)
        if ref is not None and ref == _runbook(a):
            before, after = self.old.repo.file_sha256(ref), self.new.repo.file_sha256(ref)
            if before != after and before is not None and after is not None:
                diff = self.file_diff(ref, ref)
                fields.append(FieldChange("on_breach.runbook.sha256", before, after, NEUTRAL,
                                          text_diff=diff,
                                          where=Where(ref, line=diff.first_changed or 1)))
        if not fields:
            before = self.old.digester.try_contract(a) if a.valid else None
            after = self.new.digester.try_contract(b) if b.valid else None
            if before != after:  # unexplained: its runbook can no longer be read
                fields.append(FieldChange("digest", before, after,
                                          LOOSENED if after is None else NEUTRAL,
                                          where=Where(b.file, b.doc, ("spec",))))
        return fields

    def changes(self, a: Record, b: Record) -> list[FieldChange]:
        """A record's changes as the diff shows them, whatever its kind."""
        if b.kind == "Bundle":
            return self.bundle(a, b)
        if b.kind == "ThresholdContract":
            return self.contract(a, b)
        return self.record(a, b)

    # -- digest inputs ---------------------------------------------------------------------
    def _input_changes(self, ia: tuple[DigestInput, ...], ib: tuple[DigestInput, ...],
                       depth: int) -> Iterator[FieldChange]:
        before = {i.path: i for i in ia}
        after = {i.path: i for i in ib}
        for path in sorted(set(before) & set(after)):
            x, y = before[path], after[path]
            if x.digest == y.digest or x.ref != y.ref:
                continue  # unchanged, or a reference to another input: the spec field says
            if x.kind == "file":
                diff = self.file_diff(x.ref, y.ref)
                yield FieldChange(f"{path}.sha256", x.digest.removeprefix("sha256:"),
                                  y.digest.removeprefix("sha256:"), REAPPROVAL,
                                  text_diff=diff, where=Where(y.ref,
                                                              line=diff.first_changed or 1))
            elif x.kind == "model":
                yield from self._model(x.ref)
            elif x.kind == "eval_set":
                yield self._eval(path, x, y)
            else:
                yield self._component(path, x, y, depth)

    def _model(self, model_id: str) -> Iterator[FieldChange]:
        before = self.old.digester.model_identity(model_id)
        after = self.new.digester.model_identity(model_id)
        model = self.new.repo.get("Model", model_id)
        for key in sorted(set(before) | set(after)):
            if before.get(key) != after.get(key):
                where = Where(model.file, model.doc, ("spec", key)) if model else None
                yield FieldChange(f"model.{key}", before.get(key), after.get(key), REAPPROVAL,
                                  where=where)

    def _eval(self, path: str, x: DigestInput, y: DigestInput) -> FieldChange:
        """An eval set whose digest changed: its data file's diff when it names one."""
        a, b = self.old.repo.get("EvalSet", x.ref), self.new.repo.get("EvalSet", y.ref)
        old_file = a.spec.get("path") if a is not None and a.valid else None
        new_file = b.spec.get("path") if b is not None and b.valid else None
        if isinstance(new_file, str) and old_file == new_file and b is not None and \
                "digest" not in b.spec:
            diff = self.file_diff(old_file, new_file)
            return FieldChange(path, x.digest, y.digest, REAPPROVAL, text_diff=diff,
                               where=Where(new_file, line=diff.first_changed or 1))
        where = Where(b.file, b.doc, ("spec", "digest")) if b is not None else None
        return FieldChange(path, x.digest, y.digest, REAPPROVAL, where=where)

    def _component(self, path: str, x: DigestInput, y: DigestInput, depth: int
                   ) -> FieldChange:
        """A component's digest change, by name, with the component's own changes (each
        pair of digests compared once; past ``MAX_NESTED`` or ``MAX_DEPTH``, named only)."""
        key = (y.ref, x.digest, y.digest)
        nested = self._components.get(key)
        if nested is None:
            a, b = self.old.repo.get("Bundle", x.ref), self.new.repo.get("Bundle", y.ref)
            inner: list[FieldChange] = []
            if a is not None and b is not None and depth < MAX_DEPTH \
                    and self._nested < MAX_NESTED:
                inner = self.bundle(a, b, digest_only=True, depth=depth + 1)
            where = Where(b.file, b.doc, ("spec",)) if b is not None else None
            nested = FieldChange("", x.digest, y.digest, REAPPROVAL, component=y.ref,
                                 changes=tuple(inner), where=where)
            self._components[key] = nested
        size = _size(nested) - 1
        if self._nested + size > MAX_NESTED:  # shown already often enough: named only
            nested = replace(nested, changes=())
        self._nested += _size(nested) - 1
        return replace(nested, path=path)


def _inputs(digester: Digester, bundle: Record) -> tuple[DigestInput, ...] | None:
    try:
        return digester.bundle_inputs(bundle)
    except DigestError:
        return None


def _file_ref(kind: str, parts: tuple[str | int, ...], value: Any) -> str | None:
    """The file a field names, when the field is a file reference (SPEC §1.3)."""
    if not isinstance(value, str):
        return None
    if kind == "Bundle" and (parts == ("prompt", "template") or (
            len(parts) == 3 and parts[0] == "tools" and parts[2] == "schema")):
        return value
    if kind == "ThresholdContract" and parts == ("on_breach", "runbook") and not is_url(value):
        return value
    if kind == "EvalSet" and parts == ("path",):
        return value
    return None


def _runbook(contract: Record) -> str | None:
    on_breach = contract.spec.get("on_breach") if contract.valid else None
    runbook = on_breach.get("runbook") if isinstance(on_breach, dict) else None
    return runbook if isinstance(runbook, str) and not is_url(runbook) else None


def related(repo: Repository, changes: list[FieldChange], prefix: str = ""
            ) -> tuple[Related, ...]:
    """The places in ``repo`` (the newer revision) where the changes are, for a finding's
    ``related`` (at most ``MAX_RELATED``; a component's changes where they are made)."""
    out: list[Related] = []
    for change in changes:
        for leaf in change.leaves():
            if len(out) >= MAX_RELATED:
                return tuple(out)
            if leaf.where is None:
                continue
            where = leaf.where
            if where.doc is None:
                line, column = where.line or 1, 1
            else:
                line, column = repo.locator.position(where.file, where.doc, where.path)
            named = f"component {change.component!r}: " if change.component else ""
            out.append(Related(where.file, line, column, f"{prefix}{named}{describe(leaf)}"))
    return tuple(out)
