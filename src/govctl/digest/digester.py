"""Digests (SPEC §1.3): what production logs with every inference, reproducible anywhere.

    digest(bundle) = "sha256:" + hex(sha256(JCS({"apiVersion", "kind": "Bundle", "spec": S})))

``S`` is the bundle's spec with file references replaced by ``{path, sha256}``, ``model``
by the Model's identity, ``eval_set`` by the eval digest and each component by its own
digest (a Merkle tree). Nothing else is normalised: values are as YAML 1.2 core read them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from govctl.digest.canonical import NotCanonical, canonical, jcs, of_canonical
from govctl.model.records import Record, is_url
from govctl.model.repository import Repository

MODEL_IDENTITY = ("provider", "name", "type", "snapshot", "artifact")


class DigestError(Exception):
    """The digest cannot be computed (a missing record or file, a cycle)."""


def contract_spec(spec: Mapping[str, Any], file_sha256: Callable[[str], str]
                  ) -> dict[str, Any]:
    """A ThresholdContract's spec as digested: a runbook that is a file path (no URL
    scheme) replaced by ``{path, sha256}``. ``file_sha256`` reads the file wherever the
    contract lives: the working tree, or a commit."""
    spec = dict(spec)
    on_breach = spec.get("on_breach")
    runbook = on_breach.get("runbook") if isinstance(on_breach, Mapping) else None
    if isinstance(runbook, str) and not is_url(runbook):
        spec["on_breach"] = {**on_breach, "runbook": {"path": runbook,
                                                      "sha256": file_sha256(runbook)}}
    return spec


def contract_digest(spec: Mapping[str, Any], file_sha256: Callable[[str], str]) -> str:
    return _digest("ThresholdContract", contract_spec(spec, file_sha256))


def _digest(kind: str | None, value: Mapping[str, Any]) -> str:
    """sha256 of the canonical JSON of a spec (``kind`` given) or of a plain value; a value
    a broken record holds that canonical JSON cannot write (NaN, infinity) has none."""
    try:
        return of_canonical(canonical(kind, value) if kind is not None else jcs(value))
    except NotCanonical as exc:
        raise DigestError(f"{kind or 'the model identity'} is {exc}") from None


@dataclass(frozen=True)
class DigestInput:
    """One thing a bundle digest depends on (for `govctl digest --format json`)."""

    path: str  # dotted path in the bundle spec, e.g. "prompt.template"
    kind: str  # file | model | eval_set | component
    ref: str  # the file path or record id
    digest: str  # sha256:… of the input


@dataclass
class Digester:
    """Computes digests over one repository, memoising each bundle's."""

    repo: Repository
    _bundles: dict[str, str] = field(default_factory=dict)
    _inputs: dict[str, tuple[DigestInput, ...]] = field(default_factory=dict)
    _models: dict[str, str] = field(default_factory=dict)
    _contracts: dict[int, tuple[Record, str]] = field(default_factory=dict)

    def file_sha256(self, ref: str) -> str:
        value = self.repo.file_sha256(ref)
        if value is None:
            raise DigestError(f"file {ref!r} is missing or outside the governance root")
        return value

    def _file(self, ref: str) -> dict[str, str]:
        return {"path": ref, "sha256": self.file_sha256(ref)}

    def model_identity(self, model_id: str) -> dict[str, Any]:
        model = self.repo.get("Model", model_id)
        if model is None:
            raise DigestError(f"Model {model_id!r} does not exist")
        spec = model.spec
        # shared, not copied: canonicalisation never mutates its input
        return {k: spec[k] for k in MODEL_IDENTITY if k in spec}

    def eval_digest(self, eval_id: str) -> str:
        record = self.repo.get("EvalSet", eval_id)
        if record is None:
            raise DigestError(f"EvalSet {eval_id!r} does not exist")
        spec = record.spec
        if isinstance(spec.get("digest"), str):
            return spec["digest"]
        if isinstance(spec.get("path"), str):
            return "sha256:" + self.file_sha256(spec["path"])
        raise DigestError(f"EvalSet {eval_id!r} has neither digest nor path")

    def contract_spec(self, contract: Record) -> dict[str, Any]:
        return contract_spec(contract.spec, self.file_sha256)

    def contract_digest(self, contract: Record) -> str:
        # memoised by record: status, explain and export ask for every contract's digest,
        # staleness and the yardstick both
        key = id(contract)
        held = self._contracts.get(key)
        if held is None or held[0] is not contract:
            held = self._contracts[key] = (contract, contract_digest(contract.spec,
                                                                     self.file_sha256))
        return held[1]

    def bundle_spec(self, bundle: Record, _visiting: tuple[str, ...] = ()) -> dict[str, Any]:
        """The spec ``S`` that is canonicalised for the bundle digest."""
        # New containers only where a value is replaced; the rest is shared with the
        # record (canonicalisation never mutates), which keeps digesting cheap.
        spec = dict(bundle.spec)
        # who built it is not what runs: recording developers invalidates no approval
        spec.pop("developers", None)
        inputs: list[DigestInput] = []
        prompt = spec.get("prompt")
        if isinstance(prompt, Mapping) and isinstance(prompt.get("template"), str):
            ref = self._file(prompt["template"])
            spec["prompt"] = {**prompt, "template": ref}
            inputs.append(DigestInput("prompt.template", "file", ref["path"],
                                      "sha256:" + ref["sha256"]))
        tools = spec.get("tools")
        if isinstance(tools, list):
            replaced = []
            for i, tool in enumerate(tools):
                if isinstance(tool, Mapping) and isinstance(tool.get("schema"), str):
                    ref = self._file(tool["schema"])
                    tool = {**tool, "schema": ref}
                    inputs.append(DigestInput(f"tools[{i}].schema", "file", ref["path"],
                                              "sha256:" + ref["sha256"]))
                replaced.append(tool)
            spec["tools"] = replaced
        if "model" in spec:
            model_id = spec["model"]
            spec["model"] = self.model_identity(model_id)
            inputs.append(DigestInput("model", "model", model_id,
                                      self._model_digest(model_id, spec["model"])))
        if "eval_set" in spec:
            eval_id = spec["eval_set"]
            spec["eval_set"] = self.eval_digest(eval_id)
            inputs.append(DigestInput("eval_set", "eval_set", eval_id, spec["eval_set"]))
        if "components" in spec:
            resolved = []
            for i, component_id in enumerate(spec["components"]):
                digest = self._component(component_id, (*_visiting, bundle.id))
                resolved.append(digest)
                inputs.append(DigestInput(f"components[{i}]", "component", component_id,
                                          digest))
            spec["components"] = resolved
        self._inputs[bundle.id] = tuple(inputs)
        return spec

    def _model_digest(self, model_id: str, identity: Mapping[str, Any]) -> str:
        """sha256 of the model identity's canonical JSON (shown by `govctl digest`)."""
        digest = self._models.get(model_id)
        if digest is None:
            digest = self._models[model_id] = _digest(None, identity)
        return digest

    def _component(self, bundle_id: str, visiting: tuple[str, ...]) -> str:
        if bundle_id in visiting:
            raise DigestError("component cycle: " + " → ".join((*visiting, bundle_id)))
        component = self.repo.get("Bundle", bundle_id)
        if component is None:
            raise DigestError(f"component Bundle {bundle_id!r} does not exist")
        return self._bundle(component, visiting)

    def _bundle(self, bundle: Record, visiting: tuple[str, ...]) -> str:
        cached = self._bundles.get(bundle.id)
        if cached is None:
            cached = _digest("Bundle", self.bundle_spec(bundle, visiting))
            self._bundles[bundle.id] = cached
        return cached

    def bundle_digest(self, bundle: Record) -> str:
        return self._bundle(bundle, ())

    def bundle_inputs(self, bundle: Record) -> tuple[DigestInput, ...]:
        self.bundle_digest(bundle)
        return self._inputs.get(bundle.id, ())

    def try_bundle(self, bundle: Record) -> str | None:
        try:
            return self.bundle_digest(bundle)
        except DigestError:
            return None

    def try_contract(self, contract: Record) -> str | None:
        try:
            return self.contract_digest(contract)
        except DigestError:
            return None

    def try_eval(self, eval_id: str) -> str | None:
        try:
            return self.eval_digest(eval_id)
        except DigestError:
            return None
