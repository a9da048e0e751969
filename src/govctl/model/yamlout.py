"""Writing records as YAML that reads back, under the YAML 1.2 core schema, as exactly
the data written (checked by the callers with the loader). Block style for mappings,
flow style for lists of scalars and for flat list items, to read like hand-written records.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

from govctl.model.escape import yaml_safe
from govctl.model.loader import resolve_plain

_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-/ ]*\Z")
# YAML 1.1 tools (yq, PyYAML defaults) read these as booleans: quote them for them too.
_YAML11_BOOLS = frozenset(("y", "n", "yes", "no", "on", "off"))


def scalar(value: Any) -> str:
    if value is None:
        return "null"
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("non-finite numbers cannot be written")
        return repr(value)
    text = str(value)
    if (_PLAIN.match(text) and not text.endswith(" ") and resolve_plain(text) == text
            and text.lower() not in _YAML11_BOOLS):
        return text
    # a JSON string is a YAML double-quoted one, once what YAML reads differently is escaped
    return yaml_safe(json.dumps(text, ensure_ascii=False))


def _flat(value: Any) -> bool:
    return isinstance(value, Mapping) and all(
        not isinstance(v, (Mapping, list)) for v in value.values())


def _flow(value: Any) -> str:
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{scalar(k)}: {scalar(v)}" for k, v in value.items()) + "}"
    return "[" + ", ".join(scalar(v) for v in value) + "]"


def _lines(value: Mapping[str, Any], indent: int) -> list[str]:
    pad = " " * indent
    out: list[str] = []
    for key, item in value.items():
        head = f"{pad}{scalar(key)}:"
        if isinstance(item, Mapping):
            if not item:
                out.append(f"{head} {{}}")
            else:
                out.append(head)
                out.extend(_lines(item, indent + 2))
        elif isinstance(item, list):
            flat = all(not isinstance(v, (Mapping, list)) for v in item)
            if flat and len(head) + len(_flow(item)) <= 90:
                out.append(f"{head} {_flow(item)}")
            elif flat and item:
                out.append(head)  # long lists (conditions) read better one per line
                out.extend(f"{pad}  - {scalar(v)}" for v in item)
            else:
                out.append(head)
                for element in item:
                    if _flat(element) or not isinstance(element, (Mapping, list)):
                        shown = _flow(element) if isinstance(element, Mapping) else scalar(element)
                        out.append(f"{pad}  - {shown}")
                    elif isinstance(element, Mapping):
                        nested = _lines(element, indent + 4)
                        out.append(f"{pad}  - {nested[0].lstrip()}")
                        out.extend(nested[1:])
                    else:
                        out.append(f"{pad}  - {_flow(element)}")
        else:
            out.append(f"{head} {scalar(item)}")
    return out


def dump(document: Mapping[str, Any], comment: str | None = None) -> str:
    lines = [f"# {line}" if line else "#" for line in (comment or "").splitlines()]
    return "\n".join([*lines, *_lines(document, 0)]) + "\n"
