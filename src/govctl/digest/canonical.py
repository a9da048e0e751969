"""RFC 8785 (JCS) canonical JSON and the sha256 digests of SPEC §1.3 built on it.

    digest = "sha256:" + hex(sha256(JCS({"apiVersion": "govctl/v1", "kind": KIND, "spec": S})))
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

import rfc8785

from govctl.model.records import API_VERSION


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class _NeedsReference(Exception):
    """A value whose JSON text differs between Python and RFC 8785: use the reference."""


class NotCanonical(ValueError):
    """A value RFC 8785 cannot write (NaN or infinity, a key that is no string, a lone
    surrogate): what a broken record may hold. Its digest does not exist."""


def _plain(value: Any) -> Any:
    """The value with integral floats as ints, checked to serialise identically under
    Python's json and RFC 8785 (see :func:`jcs`)."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str) or not key.isascii():
                # sorting by UTF-16 units differs beyond the BMP (and only the reference
                # says what it makes of a key that is no string)
                raise _NeedsReference
            out[key] = _plain(item)
        return out
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, float):
        if value.is_integer():
            if abs(value) < 2**53:
                return int(value)  # RFC 8785 writes 1.0 as 1 (and -0.0 as 0)
            raise _NeedsReference  # large: ECMAScript pads shortest digits with zeros
        if not 1e-4 <= abs(value) < 1e16:
            raise _NeedsReference  # Python writes 1e-05, ECMAScript 0.00001
    return value


def jcs(value: Any) -> bytes:
    """RFC 8785 canonical JSON. For the values records hold, the C json encoder gives the
    same bytes as the ``rfc8785`` package, several times faster; anything where the two
    could differ (exponent floats, non-ASCII keys) goes to ``rfc8785``, the reference.
    tests/test_digest.py compares both on generated values."""
    try:
        try:
            plain = _plain(value)
        except _NeedsReference:
            return rfc8785.dumps(value)
        return json.dumps(plain, ensure_ascii=False, sort_keys=True, separators=(",", ":"),
                          allow_nan=False).encode("utf-8")
    # (rfc8785's domain errors and UnicodeEncodeError are ValueErrors; TypeError: a value
    # of no JSON type; RecursionError: nesting no record the loader accepts has)
    except (ValueError, TypeError, RecursionError) as exc:
        raise NotCanonical(f"not canonical JSON: {type(exc).__name__}") from None


def canonical(kind: str, spec: Mapping[str, Any]) -> bytes:
    return jcs({"apiVersion": API_VERSION, "kind": kind, "spec": spec})


def of_canonical(data: bytes) -> str:
    return "sha256:" + sha256_hex(data)
