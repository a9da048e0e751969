"""`govctl trace DIGEST` as text."""

from __future__ import annotations

from rich.text import Text

from govctl.history.trace import TraceResult

# git's %G? letters, in words
SIGNATURE_STATES = {
    "G": "good signature", "N": "unsigned", "B": "BAD signature",
    "U": "good signature, unknown validity", "X": "good signature, expired",
    "Y": "good signature, expired key", "R": "good signature, revoked key",
    "E": "signature cannot be checked (missing key)",
}


def render_text(result: TraceResult) -> list[Text]:
    first = result.matches[0]
    lines = [Text(f"{result.digest}", style="bold")]
    lines.append(Text(f"  bundle      {first.bundle}"))
    lines.append(Text(f"  use case    {first.use_case or '(none serves it directly)'}"))
    for other in result.matches[1:]:
        lines.append(Text(f"  also        Bundle {other.bundle} (use case "
                          f"{other.use_case or 'none'}): identical digest inputs"))
    state = Text("  current     ")
    state.append("yes" if result.current else "no", style="green" if result.current else "red")
    state.append(": the working tree's bundle has this digest" if result.current
                 else ": the bundle has changed since (or was removed)")
    lines.append(state)
    if result.first_commit is not None:
        c = result.first_commit
        lines.append(Text(f"  first seen  {c.short} {c.date} by {c.author} <{c.email}>"))
    else:
        lines.append(Text("  first seen  not committed yet (working tree only)"))
    if not result.approvals:
        lines.append(Text("  approvals   none was ever bound to this digest", style="red"))
    for a in result.approvals:
        people = ", ".join(f"{p.get('name', p['person'])} ({p['role']})" for p in a.approvers)
        lines.append(Text(f"  approval    {a.id}: {a.decision} for {a.use_case} by {people}"))
        if a.commit is not None:
            signed = SIGNATURE_STATES.get(a.signature or "N", f"signature {a.signature}")
            if a.signature not in (None, "N"):
                signed += (", by an approver's key" if a.signed
                           else ", NOT by a key of an approver")
            lines.append(Text(f"              committed {a.commit.short} {a.commit.date} by "
                              f"{a.commit.author} <{a.commit.email}>, {signed}"))
        else:
            lines.append(Text("              not committed"))
    return lines
