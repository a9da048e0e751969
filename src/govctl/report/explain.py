"""`govctl explain USE_CASE` as text: the three answers on one screen."""

from __future__ import annotations

from rich.text import Text

from govctl.monitoring.explain import Explanation
from govctl.monitoring.status import VERDICT_MEANING
from govctl.report.status import signal_text, verdict_text


def render_text(e: Explanation) -> list[Text]:
    uc = e.use_case
    head = Text("verdict: ")
    head.append_text(verdict_text(e.verdict))
    head.append(f" — {VERDICT_MEANING[e.verdict]}")
    lines = [Text(f"UseCase {uc['id']} — {uc['title']} ({uc['status']}, tier {uc['tier']})",
                  style="bold"), head, Text("")]
    lines.append(Text("1. Who approved it?", style="bold"))
    approval = e.approval.approval
    if approval is None:
        lines.append(Text("   no current approval", style="bold red"))
    else:
        a = approval.spec
        state = Text(f"   {approval.id}: {a['decision']} on {a['date']}"
                     + (f", valid until {a['valid_until']}" if a.get("valid_until") else "")
                     + " — ")
        state.append(e.approval.state.upper(),
                     style="green" if e.approval.state == "current" else "bold red")
        lines.append(state)
        for reason in e.approval.reasons:
            lines.append(Text(f"     {reason}", style="red"))
        for p in e.approvers:
            email = f" <{p['email']}>" if p.get("email") else ""
            lines.append(Text(f"   approver: {p['name']} ({p['role']}){email}"))
        for condition in e.approval.conditions:
            lines.append(Text(f"   condition: {condition}", style="cyan"))
        lines.append(Text(f"   population: {a['population']}"))
        bound = a["bundle"]["digest"]
        if e.serving_approved:
            serving = " (observed serving)"
        elif bound in e.digests_seen:
            serving = " (observed serving, beside another digest: see GOV085 below)"
        elif e.digests_seen:
            serving = " (NOT observed serving: observations carry other digests, GOV085)"
        else:
            serving = " (not evidenced as what serves: no observation carries a digest)"
        lines.append(Text(f"   bound digest: {a['bundle']['digest']}{serving}"))
        if e.commit:
            signed = "signed" if e.commit["signed"] else "unsigned"
            lines.append(Text(f"   committed {e.commit['sha'][:7]} by {e.commit['author']} "
                              f"<{e.commit['email']}> on {e.commit['date']} ({signed})"))
    lines += [Text(""), Text("2. How is it doing against the thresholds it was approved under?",
                             style="bold")]
    if not e.observed:
        lines.append(Text("   no observations given: add --observations FILE or "
                          "--prometheus URL for live values", style="dim"))
    if e.threshold_note:
        lines.append(Text(f"   thresholds: {e.threshold_note}", style="yellow"))
    elif e.threshold_basis == "approved" and e.threshold_source and "git blob" in \
            e.threshold_source:
        lines.append(Text(f"   thresholds: as approved, read from {e.threshold_source}: the "
                          "records hold a change nobody approved yet", style="yellow"))
    elif e.threshold_basis == "working-tree":
        lines.append(Text("   thresholds: the working tree's (no current approval)",
                          style="dim"))
    for s in e.signals:
        line = Text("   ")
        line.append_text(signal_text(s))
        line.append(f"  [{s.metric}, window {s.window}, {s.severity}]")
        lines.append(line)
    for name in e.required_absent:
        lines.append(Text(f"   ? required signal {name}: not in the approved contract, so "
                          "nothing observes it", style="yellow"))
    for f in e.findings:
        lines.append(Text(f"   {f.rule}: {f.message}", style="bold red"))
    for i in e.ignored:
        lines.append(Text(f"   warning: {i.rows} observation row(s) for {i.use_case}/{i.signal} "
                          "ignored: no contract signal of that name", style="bold yellow"))
    for incident in e.incidents:
        lines.append(Text(f"   open incident {incident['id']} ({incident['severity']}, "
                          f"{incident['status']}, detected {incident['detected']})"
                          + (f": {incident['summary']}" if incident.get("summary") else ""),
                          style="yellow"))
    lines += [Text(""), Text("3. Who is on the hook?", style="bold")]
    owner = e.owner
    lines.append(Text(f"   owner: {owner['name']}"
                      + (f" <{owner['email']}>" if owner.get("email") else "")))
    if e.team is None:
        lines.append(Text("   team: unknown", style="red"))
    else:
        oncall = e.team.get("oncall")
        if oncall:
            pager = f", pager {oncall['pager']}" if oncall.get("pager") else ""
            lines.append(Text(f"   team: {e.team['id']}, on-call rotation {oncall['rotation']}"
                              f"{pager}"))
            if oncall["escalation"]:
                names = ", ".join(p["name"] for p in oncall["escalation"])
                lines.append(Text(f"   escalation: {names}"))
        else:
            lines.append(Text(f"   team: {e.team['id']}, NO on-call rotation", style="bold red"))
    if e.on_breach:
        runbook = f"; runbook {e.on_breach['runbook']}" if e.on_breach.get("runbook") else ""
        lines.append(Text(f"   on breach: {e.on_breach['action']}{runbook}"))
    lines.append(Text(f"   fallback: {uc['fallback'] or 'none declared'}"))
    return lines
