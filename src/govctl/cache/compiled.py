"""Compiled schema checks (fastjsonschema), with the generated code cached on disk.

Compiling the ten schemas costs ~75 ms per process; the generated Python is cached in
the user cache directory keyed by the schema's content and the fastjsonschema version,
so a pre-commit run pays it once. The cache is an optimisation only: any problem reading
it falls back to compiling.

Each cached file starts with the sha256 of the code after it, checked before the code is
run: a file cut short at a line boundary is still valid Python, and a ``validate`` that
lost its last checks would call invalid records valid.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Callable, Mapping
from typing import Any

from govctl.cache import store

Check = Callable[[Any], bool]


def validator(kind: str, schema: Mapping[str, Any],
              formats: Mapping[str, Callable[[Any], bool]]) -> Check:
    import fastjsonschema

    draft7 = copy.deepcopy(dict(schema))
    draft7["$schema"] = "http://json-schema.org/draft-07/schema#"
    draft7.pop("$id", None)  # a local schema: no remote resolution, ever
    key = hashlib.sha256(json.dumps(draft7, sort_keys=True).encode()
                         + fastjsonschema.VERSION.encode()).hexdigest()[:32]
    name = f"{kind}-{key}.py"
    code = _unsealed(store.read_text("schemas", name))
    if code is None:
        code = fastjsonschema.compile_to_code(draft7, formats=dict(formats))
        store.write_text("schemas", name, _sealed(code))
    namespace: dict[str, Any] = {}
    try:
        exec(compile(code, f"<govctl schema {kind}>", "exec"), namespace)  # our own code
        generated = namespace["validate"]
    except Exception:  # a damaged cache entry: compile afresh, never trust it
        code = fastjsonschema.compile_to_code(draft7, formats=dict(formats))
        namespace = {}
        exec(compile(code, f"<govctl schema {kind}>", "exec"), namespace)
        generated = namespace["validate"]
    error = fastjsonschema.JsonSchemaException
    custom = dict(formats)  # the generated code takes the formats as an argument

    def check(data: Any) -> bool:
        try:
            generated(data, custom)
        except error:
            return False
        except Exception:  # e.g. RecursionError: let jsonschema decide
            return False
        return True

    return check


_SEAL = "# govctl-sha256: "


def _sealed(code: str) -> str:
    return f"{_SEAL}{hashlib.sha256(code.encode()).hexdigest()}\n{code}"


def _unsealed(text: str | None) -> str | None:
    """The code of a cached file whose checksum matches, else None (compile afresh)."""
    if text is None or not text.startswith(_SEAL):
        return None
    header, _, code = text.partition("\n")
    if hashlib.sha256(code.encode()).hexdigest() != header[len(_SEAL):]:
        return None
    return code
