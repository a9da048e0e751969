"""Rendering documents (model cards, audit packs) from records with Jinja2.

Templates run in a ``SandboxedEnvironment``; HTML templates autoescape; record text is
only ever passed as data (never as template source), so a title such as ``{{ 7*7 }}`` or
``<script>`` is shown literally. ``--template DIR`` overrides built-in templates by name.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from govctl.errors import GovctlError
from govctl.model.escape import code_span, markdown_text, terminal_safe

BUILTIN = Path(__file__).parent / "templates"


def autoescaped(name: str | None) -> bool:
    """Whether a template produces HTML/XML and must escape every value.

    Templates are named ``<document>.<format>.j2`` (``card.html.j2``); jinja2's
    ``select_autoescape`` only looks at the last suffix, which would leave the HTML
    templates unescaped, so the template suffix is stripped before looking.
    """
    if not name:
        return False
    base = name.lower()
    for suffix in TEMPLATE_SUFFIXES:
        if base.endswith(suffix):
            base = base[: -len(suffix)]
            break
    return base.endswith(ESCAPED_EXTENSIONS)


TEMPLATE_SUFFIXES = (".j2", ".jinja2", ".jinja")
ESCAPED_EXTENSIONS = (".html", ".htm", ".xml", ".svg")


def environment(template_dir: Path | None = None) -> Any:
    from jinja2 import ChoiceLoader, FileSystemLoader, PrefixLoader, StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment

    loaders = []
    if template_dir is not None:
        if not template_dir.is_dir():
            raise GovctlError(f"--template {template_dir}: no such directory")
        loaders.append(FileSystemLoader(str(template_dir)))
    loaders.append(FileSystemLoader(str(BUILTIN)))
    # "builtin/card.md.j2" is always the built-in template, so that a custom card.md.j2
    # can include or extend the one it replaces without including itself
    loaders.append(PrefixLoader({"builtin": FileSystemLoader(str(BUILTIN))}))
    env = SandboxedEnvironment(
        loader=ChoiceLoader(loaders),
        autoescape=autoescaped,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        finalize=_make_finalize(),
    )
    env.filters["short"] = _short
    env.filters["md"] = lambda value: MarkdownMarkup(
        markdown_text("—" if value is None else value))
    env.filters["code"] = lambda value: MarkdownMarkup(
        code_span("" if value is None else value))
    env.filters["markup"] = MarkdownMarkup
    env.filters["sentence"] = lambda value: str(value).rstrip().rstrip(".")
    env.filters["join_or"] = lambda items, empty="—": ", ".join(map(str, items)) if items \
        else empty
    return env


def render(name: str, context: dict[str, Any], template_dir: Path | None = None) -> str:
    return "".join(render_pieces(name, context, template_dir))


def render_pieces(name: str, context: dict[str, Any], template_dir: Path | None = None
                  ) -> Iterator[str]:
    """The rendered text a piece at a time, for a writer that never holds it whole (a pack
    of 2,000 use cases renders 30 MB of mapping: as one string, and encoded, and jinja's
    list of its pieces, well over 100 MB at once)."""
    env = environment(template_dir)
    try:
        yield from env.get_template(name).generate(**context)
    except GovctlError:
        raise
    except Exception as exc:
        # A custom template is user code: whatever it raises (a sandbox violation, an
        # undefined key, a syntax error, 1/0) is one line naming the template and the line,
        # never an "internal error" with a request to report a bug.
        detail = " ".join(str(exc).split()) or "failed"
        raise GovctlError(f"template {_where(exc, name)}"
                          f"{f' ({template_dir})' if template_dir else ''}: "
                          f"{type(exc).__name__}: {detail}") from None


def _where(exc: BaseException, name: str) -> str:
    """``name`` or ``name line N``: the template line that failed, when known."""
    from jinja2 import TemplateSyntaxError

    if isinstance(exc, TemplateSyntaxError) and exc.lineno:
        return f"{exc.name or name} line {exc.lineno}"
    line, template = None, name
    tb = exc.__traceback__
    while tb is not None:  # jinja2 rewrites frames so template code shows its own lines
        filename = tb.tb_frame.f_code.co_filename
        if filename.endswith(TEMPLATE_SUFFIXES):
            line, template = tb.tb_lineno, Path(filename).name
        tb = tb.tb_next
    return f"{template} line {line}" if line else template


def _short(value: Any, length: int = 19) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= length else text[:length] + "…"


class MarkdownMarkup(str):
    """Markdown a template put there itself (or a value a filter already escaped): shown
    as it is. Any other string reaching a Markdown template's output is record text and is
    escaped (``_finalize``)."""

    __slots__ = ()


def _finalize_value(eval_ctx: Any, value: Any) -> Any:
    """What every ``{{ … }}`` prints. Numbers, dates and None cannot form markup."""
    if not isinstance(value, str) or isinstance(value, MarkdownMarkup):
        return value
    if eval_ctx.autoescape:
        # HTML: markupsafe escapes <, >, & and quotes but leaves an ESC or a bidi override
        # as it is, and a value's newline would start a line of the page (printed to a CI
        # log, "::error::…" at column 0). Escaped here: controls as visible escapes, a
        # newline as &#10; (the same whitespace to a browser).
        from markupsafe import Markup, escape

        if isinstance(value, Markup):
            return value
        return Markup(str(escape(terminal_safe(value))).replace("\r", "&#13;")
                      .replace("\n", "&#10;"))
    # Markdown has no autoescape of its own: every string is record text unless a filter
    # or the template marked it (SPEC §3: "Markdown output escapes every ASCII punctuation
    # character of an interpolated value")
    return markdown_text(value)


def _make_finalize() -> Any:
    from jinja2 import pass_eval_context

    return pass_eval_context(_finalize_value)
