"""`govctl history USE_CASE` as text."""

from __future__ import annotations

from rich.text import Text

from govctl.history.timeline import Timeline


def render_text(timeline: Timeline) -> list[Text]:
    lines = [Text(f"history of UseCase {timeline.use_case}: {len(timeline.entries)} commits",
                  style="bold")]
    for entry in timeline.entries:
        c = entry.commit
        head = Text()
        head.append(c.short, style="yellow")
        head.append(f"  {c.date[:10]}  {c.author} <{c.email}>  {c.subject}")
        lines.append(head)
        for change in entry.changes:
            lines.append(Text(f"    {change.record}: {change.summary}"))
    return lines
