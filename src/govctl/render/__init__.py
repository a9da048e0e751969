"""Rendering documents (model cards, audit packs) from records with Jinja2.

Templates run in a ``SandboxedEnvironment``; HTML templates autoescape; record text is
only ever passed as data (never as template source), so a title such as ``{{ 7*7 }}`` or
``<script>`` is shown literally. ``--template DIR`` overrides built-in templates by name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from govctl.errors import GovctlError

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
    from jinja2 import ChoiceLoader, FileSystemLoader, StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment

    loaders = []
    if template_dir is not None:
        if not template_dir.is_dir():
            raise GovctlError(f"--template {template_dir}: no such directory")
        loaders.append(FileSystemLoader(str(template_dir)))
    loaders.append(FileSystemLoader(str(BUILTIN)))
    env = SandboxedEnvironment(
        loader=ChoiceLoader(loaders),
        autoescape=autoescaped,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["short"] = _short
    env.filters["md"] = _markdown_cell
    env.filters["code"] = _code_span
    env.filters["sentence"] = lambda value: str(value).rstrip().rstrip(".")
    env.filters["join_or"] = lambda items, empty="—": ", ".join(map(str, items)) if items \
        else empty
    return env


def render(name: str, context: dict[str, Any], template_dir: Path | None = None) -> str:
    from jinja2 import TemplateError

    env = environment(template_dir)
    try:
        return env.get_template(name).render(**context)
    except TemplateError as exc:
        where = f" ({template_dir})" if template_dir else ""
        raise GovctlError(f"template {name}{where}: {type(exc).__name__}: {exc}") from None


def _short(value: Any, length: int = 19) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= length else text[:length] + "…"


def _code_span(value: Any) -> str:
    """Inline code whose content is shown verbatim (a backtick inside widens the fence)."""
    text = "" if value is None else str(value).replace("\n", " ")
    fence = "``" if "`" in text else "`"
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _markdown_cell(value: Any) -> str:
    """Text safe inside a markdown table cell (record text is data, not markup)."""
    if value is None:
        return "—"
    text = str(value).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")
    for char in "<>`*_[]":
        text = text.replace(char, "\\" + char)
    return text
