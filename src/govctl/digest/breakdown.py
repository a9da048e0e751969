"""The data behind `govctl digest`: a bundle's digest, its inputs and canonical form."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from govctl.digest.canonical import canonical
from govctl.digest.digester import Digester, DigestError
from govctl.errors import EXIT_FINDINGS, GovctlError
from govctl.model.repository import WorktreeSource, load_repository


def bundle_report(root: Path, bundle_id: str) -> dict[str, Any]:
    repo = load_repository(WorktreeSource(root))
    bundle = repo.require("Bundle", bundle_id, valid=True)
    digester = Digester(repo)
    try:
        digest = digester.bundle_digest(bundle)
        inputs = digester.bundle_inputs(bundle)
        text = canonical("Bundle", digester.bundle_spec(bundle)).decode("utf-8")
    except DigestError as exc:
        raise GovctlError(f"cannot digest Bundle {bundle_id!r}: {exc}",
                          exit_code=EXIT_FINDINGS) from None
    return {
        "version": 1,
        "bundle": bundle.id,
        "file": bundle.file,
        "digest": digest,
        "inputs": [{"path": i.path, "kind": i.kind, "ref": i.ref, "digest": i.digest}
                   for i in inputs],
        "canonical": text,
    }
