"""Secrets written inline in a Team's Alertmanager receivers (GOV044, ``model.receivers``):
the bodies are exported verbatim, so an inline secret would be published with them."""

from __future__ import annotations

from collections.abc import Iterator

from govctl.model.findings import Finding
from govctl.model.people import oncall_of
from govctl.model.receivers import inline_secrets, receiver_bodies
from govctl.model.schemas import dotted
from govctl.rules.registry import Context, check


@check("GOV044")
def inline_receiver_secrets(ctx: Context) -> Iterator[Finding]:
    # every Team, a schema-invalid one too: its secret is published all the same
    for team in ctx.repo.of_kind("Team", valid_only=False):
        for field, body in receiver_bodies(oncall_of(team)):
            for secret in inline_secrets(body):
                yield ctx.finding(
                    "GOV044", team, ("spec", "oncall", field, *secret.path),
                    f"Team {team.id!r} oncall.{dotted((field, *secret.path))}: "
                    f"{secret.reason}")
