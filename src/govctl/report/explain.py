"""`govctl explain USE_CASE` as text: the three answers on one screen."""

from __future__ import annotations

from rich.text import Text

from govctl.monitoring.explain import Explanation
from govctl.report.status import signal_text


def render_text(e: Explanation) -> list[Text]:
    uc = e.use_case
    lines = [Text(f"UseCase {uc['id']} — {uc['title']} ({uc['status']}, tier {uc['tier']})",
                  style="bold"), Text("")]
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
        lines.append(Text(f"   population: {a['population']}"))
        lines.append(Text(f"   bound digest: {a['bundle']['digest']}"))
        if e.commit:
            signed = "signed" if e.commit["signed"] else "unsigned"
            lines.append(Text(f"   committed {e.commit['sha'][:7]} by {e.commit['author']} "
                              f"<{e.commit['email']}> on {e.commit['date']} ({signed})"))
    lines += [Text(""), Text("2. How is it doing against the thresholds it was approved under?",
                             style="bold")]
    if not e.observed:
        lines.append(Text("   no observations given: add --observations FILE or "
                          "--prometheus URL for live values", style="dim"))
    for s in e.signals:
        line = Text("   ")
        line.append_text(signal_text(s))
        line.append(f"  [{s.metric}, window {s.window}, {s.severity}]")
        lines.append(line)
    for f in e.findings:
        lines.append(Text(f"   {f.rule}: {f.message}", style="bold red"))
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
