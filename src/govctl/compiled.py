"""Compiled schema checks (fastjsonschema), with the generated code cached on disk.

Compiling the ten schemas costs ~75 ms per process; the generated Python is cached in
the user cache directory keyed by the schema's content and the fastjsonschema version,
so a pre-commit run pays it once. The cache is an optimisation only: any problem reading
it falls back to compiling.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Callable, Mapping
from typing import Any

from govctl import cache

Check = Callable[[Any], bool]


def validator(kind: str, schema: Mapping[str, Any],
              formats: Mapping[str, Callable[[Any], bool]]) -> Check:
    import fastjsonschema

    draft7 = copy.deepcopy(dict(schema))
    draft7["$schema"] = "http://json-schema.org/draft-07/schema#"
    draft7.pop("$id", None)  # a local schema: no remote resolution, ever
    key = hashlib.sha256(json.dumps(draft7, sort_keys=True).encode()
                         + fastjsonschema.VERSION.encode()).hexdigest()[:32]
    code = cache.read_text("schemas", f"{kind}-{key}.py")
    if code is None:
        code = fastjsonschema.compile_to_code(draft7, formats=dict(formats))
        cache.write_text("schemas", f"{kind}-{key}.py", code)
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
