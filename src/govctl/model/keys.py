"""Signing keys of Person records (SPEC §1.2): an SSH public key ``<type> <base64>
[comment]`` or an OpenPGP fingerprint of 40 or 64 hex digits."""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass


@dataclass(frozen=True)
class SigningKey:
    kind: str  # ssh | openpgp
    identity: str  # what makes two spellings the same key: "<type> <base64>" or HEX
    fingerprint: str  # as git reports it: %GF — "SHA256:…" (SSH) or the hex digits (OpenPGP)


def signing_key(text: str) -> SigningKey | None:
    """The key a ``signing_keys`` entry names; None when it is neither form (GOV010)."""
    parts = text.split()
    if len(parts) == 1 and len(parts[0]) in (40, 64):
        digits = parts[0].upper()
        if all(c in "0123456789ABCDEF" for c in digits):
            return SigningKey("openpgp", digits, digits)
        return None
    if len(parts) < 2:
        return None
    key_type, blob = parts[0], parts[1]
    try:
        raw = base64.b64decode(blob, validate=True)
    except (binascii.Error, ValueError):
        return None
    digest = base64.b64encode(hashlib.sha256(raw).digest()).decode("ascii").rstrip("=")
    return SigningKey("ssh", f"{key_type} {blob}", f"SHA256:{digest}")


def fingerprint_matches(key: SigningKey, reported: str) -> bool:
    """``reported`` (git's %GF or %GP) names ``key``: compared case-insensitively and without
    spaces for OpenPGP (SPEC §3.4), exactly for SSH's base64."""
    reported = reported.strip()
    if key.kind == "openpgp":
        return "".join(reported.split()).upper() == key.fingerprint
    return reported == key.fingerprint
