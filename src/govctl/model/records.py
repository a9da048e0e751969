"""The record model: kinds, records, and where records refer to each other and to files."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

API_VERSION = "govctl/v1"
SUPPORTED_API_VERSIONS = (API_VERSION,)

KINDS = (
    "Policy", "Person", "Team", "UseCase", "Bundle", "Model", "EvalSet",
    "ThresholdContract", "Approval", "Incident", "Exercise",
)

TIERS = ("prohibited", "high", "limited", "minimal")  # strictest first
DEFAULT_REQUIRED_SIGNALS = ("latency", "accuracy_proxy", "drift", "abuse", "fallback")

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class Record:
    """One YAML document holding a record. ``data`` is the whole document as loaded.

    ``valid`` is False when the document had loader or schema problems: such a record
    still exists for references (no cascade of GOV020), but semantic rules skip it.
    """

    kind: str
    id: str
    file: str  # POSIX, relative to the governance root
    doc: int  # 0-based document index in the file
    line: int
    data: Mapping[str, Any]
    valid: bool

    @property
    def spec(self) -> Mapping[str, Any]:
        spec = self.data.get("spec")
        return spec if isinstance(spec, Mapping) else {}

    @property
    def ref(self) -> str:
        return f"{self.kind}/{self.id}"

    @property
    def title(self) -> str | None:
        meta = self.data.get("metadata")
        title = meta.get("title") if isinstance(meta, Mapping) else None
        return title if isinstance(title, str) else None


@dataclass(frozen=True)
class Reference:
    """A field of a record that names another record."""

    path: Path  # inside the document, e.g. ("spec", "components", 2)
    kind: str  # the kind the id must exist as
    target: str


@dataclass(frozen=True)
class FileReference:
    path: Path
    target: str  # the file path exactly as written


def as_mapping(value: Any) -> Mapping[str, Any]:
    """``value`` when it is a mapping, else an empty one: a record that fails its schema
    may hold anything where a mapping belongs."""
    return value if isinstance(value, Mapping) else {}


def _get(obj: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(obj, Mapping):
            return None
        obj = obj.get(key)
    return obj


def _ids(seq: Any, base: Path, kind: str) -> Iterator[Reference]:
    if isinstance(seq, list):
        for i, item in enumerate(seq):
            if isinstance(item, str):
                yield Reference((*base, i), kind, item)


def _one(spec: Mapping[str, Any], base: Path, kind: str, *keys: str) -> Iterator[Reference]:
    value = _get(spec, *keys)
    if isinstance(value, str):
        yield Reference((*base, *keys), kind, value)


def references(record: Record) -> Iterator[Reference]:
    """References to other records (approvers are GOV037, tiers are checked apart)."""
    spec, base = record.spec, ("spec",)
    kind = record.kind
    if kind == "UseCase":
        yield from _one(spec, base, "Person", "owner")
        yield from _one(spec, base, "Team", "team")
        yield from _one(spec, base, "Bundle", "bundle")
        yield from _one(spec, base, "ThresholdContract", "thresholds")
        yield from _ids(_get(spec, "response", "offline_authority"),
                        (*base, "response", "offline_authority"), "Person")
        yield from _one(spec, base, "Person", "response", "customer_comms")
        yield from _one(spec, base, "Person", "response", "regulator_contact")
    elif kind == "Team":
        yield from _ids(spec.get("members"), (*base, "members"), "Person")
        yield from _ids(_get(spec, "oncall", "escalation"), (*base, "oncall", "escalation"),
                        "Person")
    elif kind == "Bundle":
        yield from _one(spec, base, "Model", "model")
        yield from _one(spec, base, "EvalSet", "eval_set")
        yield from _ids(spec.get("components"), (*base, "components"), "Bundle")
        yield from _ids(spec.get("developers"), (*base, "developers"), "Person")
    elif kind == "Model":
        yield from _ids(spec.get("developers"), (*base, "developers"), "Person")
    elif kind == "Approval":
        yield from _one(spec, base, "UseCase", "use_case")
        yield from _one(spec, base, "Bundle", "bundle", "id")
        yield from _one(spec, base, "ThresholdContract", "thresholds", "id")
        yield from _one(spec, base, "EvalSet", "eval", "id")
        yield from _one(spec, base, "Approval", "supersedes")
    elif kind == "Incident":
        yield from _one(spec, base, "UseCase", "use_case")
    elif kind == "Exercise":
        yield from _one(spec, base, "UseCase", "use_case")
        yield from _ids(spec.get("participants"), (*base, "participants"), "Person")
        gaps = spec.get("gaps")
        for i, gap in enumerate(gaps if isinstance(gaps, list) else ()):
            yield from _one(gap if isinstance(gap, Mapping) else {}, (*base, "gaps", i),
                            "Person", "owner")


def is_url(text: str) -> bool:
    """A runbook is a URL when it has a scheme (``https:``, ``mailto:``), else a file."""
    head, sep, _ = text.partition(":")
    return bool(sep) and len(head) > 1 and head[0].isalpha() and all(
        c.isalnum() or c in "+.-" for c in head)


def file_references(record: Record) -> Iterator[FileReference]:
    spec = record.spec
    if record.kind == "Bundle":
        template = _get(spec, "prompt", "template")
        if isinstance(template, str):
            yield FileReference(("spec", "prompt", "template"), template)
        tools = spec.get("tools")
        if isinstance(tools, list):
            for i, tool in enumerate(tools):
                schema = _get(tool, "schema")
                if isinstance(schema, str):
                    yield FileReference(("spec", "tools", i, "schema"), schema)
    elif record.kind == "EvalSet":
        path = spec.get("path")
        if isinstance(path, str):
            yield FileReference(("spec", "path"), path)
    elif record.kind == "ThresholdContract":
        runbook = _get(spec, "on_breach", "runbook")
        if isinstance(runbook, str) and not is_url(runbook):
            yield FileReference(("spec", "on_breach", "runbook"), runbook)
