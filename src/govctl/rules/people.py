"""People: a signing key names one person (GOV010)."""

from __future__ import annotations

from collections.abc import Iterator

from govctl.model.findings import Finding
from govctl.model.keys import signing_key
from govctl.model.records import Record
from govctl.rules.registry import Context, check


@check("GOV010")
def shared_signing_keys(ctx: Context) -> Iterator[Finding]:
    """The same key on two Persons would let either sign as the other (SPEC §1.2)."""
    holders: dict[str, Record] = {}
    for person in sorted(ctx.repo.of_kind("Person"), key=lambda r: (r.file, r.doc)):
        for i, text in enumerate(person.spec.get("signing_keys") or ()):
            key = signing_key(text)
            if key is None:
                continue  # the schema says what is wrong with it
            holder = holders.setdefault(key.identity, person)
            if holder is not person:
                yield ctx.finding(
                    "GOV010", person, ("spec", "signing_keys", i),
                    f"signing key {key.fingerprint} is already Person {holder.id!r}'s: a key "
                    "names exactly one person")
