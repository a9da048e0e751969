"""A Team's Alertmanager receivers (SPEC §1.2 ``oncall.receiver`` / ``ticket_receiver``).

The bodies are exported verbatim into the Alertmanager configuration (``monitoring
.alertmanager``), which lives in a git repository, a CI log and the Alertmanager's own
status page: a secret written there is a secret published. So secrets go only through
``*_file`` fields, and :func:`inline_secrets` finds every place one is written inline
(GOV044): a value under a key named ``*_key``, ``*_secret``, ``*_token``, ``*password`` or
``credentials``, a URL carrying userinfo (``https://user:pw@host``) or a token-like
parameter in its query (``?token=…``, ``&api_key=…``), and a Slack ``api_url`` written
inline (a Slack incoming-webhook URL is the credential itself, its token in the path; so
is any ``hooks.slack.com`` URL). An empty value is not a secret.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

RECEIVER_FIELDS = ("receiver", "ticket_receiver")

_SECRET_KEY = re.compile(r".*(_key|_secret|_token|password)|credentials", re.IGNORECASE)
# query parameters that carry a credential (`?token=…`, `&sig=…`, `?api_key=…`)
_SECRET_PARAMETER = re.compile(
    r".*(token|key|secret|password|passwd|sig|auth|credential).*",
    re.IGNORECASE)
_WEBHOOK_HOSTS = frozenset({"hooks.slack.com"})  # URLs that are credentials in themselves
_URL = re.compile(r"\s*[A-Za-z][A-Za-z0-9+.-]*://")
_MAX_DEPTH = 16  # deeper than any receiver body the schema accepts


@dataclass(frozen=True)
class InlineSecret:
    path: tuple[str | int, ...]  # below the receiver body
    reason: str


def receiver_bodies(oncall: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """``(field, body)`` for each receiver the on-call block declares as a mapping."""
    for field in RECEIVER_FIELDS:
        body = oncall.get(field)
        if isinstance(body, Mapping):
            yield field, body


def inline_secrets(body: Any, path: tuple[str | int, ...] = ()) -> Iterator[InlineSecret]:
    """Every secret written inline in a receiver body, in document order."""
    if len(path) > _MAX_DEPTH:
        return
    if isinstance(body, Mapping):
        for key, value in body.items():
            here = (*path, str(key))
            if (isinstance(key, str) and (_SECRET_KEY.fullmatch(key) or (
                    key == "api_url" and "slack_configs" in path)) and _written(value)):
                yield InlineSecret(here, f"`{key}` holds a secret inline; "
                                         f"use `{_file_field(key)}` (a file Alertmanager "
                                         "reads) instead")
            else:
                yield from inline_secrets(value, here)
    elif isinstance(body, list):
        for index, item in enumerate(body):
            yield from inline_secrets(item, (*path, index))
    elif isinstance(body, str):
        reason = url_secret(body)
        if reason is not None:
            yield InlineSecret(path, reason)


def _written(value: Any) -> bool:
    """A value that holds something: a mapping under ``credentials`` may still hold the
    secret in a deeper key, which the recursion reports there."""
    if isinstance(value, str):
        return bool(value.strip())
    return value is not None and not isinstance(value, (Mapping, list))


def _file_field(key: str) -> str:
    return "credentials_file" if key.lower() == "credentials" else f"{key}_file"



def url_secret(text: str) -> str | None:
    """Why the URL ``text`` carries a secret, None when it does not (or is not a URL)."""
    if not _URL.match(text):
        return None
    try:
        parts = urlsplit(text.strip())
        userinfo = bool(parts.username) or bool(parts.password)
        parameters = parse_qsl(parts.query, keep_blank_values=False)
    except ValueError:  # a malformed port or IPv6 host: not ours to judge, the schema's
        return None
    if userinfo:
        return "a URL with credentials in it (user:password@host); use a `*_file` field"
    if (parts.hostname or "").lower() in _WEBHOOK_HOSTS:
        return ("a webhook URL whose path is its credential; put it in a `*_file` field "
                "(api_url_file)")
    names = [name for name, value in parameters
             if value.strip() and _SECRET_PARAMETER.fullmatch(name)]
    if names:
        return (f"a URL with a token in its query ({names[0]}=…); put the URL in a "
                "`*_file` field or the credential in `http_config.authorization."
                "credentials_file`")
    return None
