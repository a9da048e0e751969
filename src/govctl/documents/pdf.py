"""`audit-pack --pdf`: the pack's ``index.html`` as ``index.pdf``, for archives.

Rendered by WeasyPrint (the ``pdf`` extra, with Pango from the system), without a browser.
Rendering is offline: every URL WeasyPrint asks for — an image, a stylesheet, a font, an
attachment, whether a custom template wrote it or record text ever got past the HTML
escaping — is refused, so nothing is read or fetched and what it would have shown is left
out. Relative links (``mapping.md``) stay links, to the files beside the PDF. The same HTML
gives the same bytes. An index too large to lay out within SPEC §3's 300 MB is refused.
"""

from __future__ import annotations

import contextlib
import io
import re
from types import ModuleType
from typing import Any

from govctl.errors import GovctlError

PDF = "index.pdf"

# WeasyPrint's memory grows with the boxes it lays out, on top of ~55 MB: measured ~20 KB
# per element of a pack index (timeline tables), ~35 KB per list item (the worst per byte:
# 128 KiB of <li> took 520 MB), and ~90 MB per MiB of plain text. At both limits together
# a PDF took 220 MB and 20 s; an index of tables at the element limit about a minute
# (benchmarks/README.md).
MAX_ELEMENTS = 4_000
MAX_BYTES = 512 * 1024
_ELEMENT = re.compile(r"<[A-Za-z]")  # a start tag (record text is escaped: never one)
_INSTALL = ("--pdf needs WeasyPrint 68 or later and Pango (pip install 'govctl-ai[pdf]'; on "
            "Debian apt-get install libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0)")


def _weasyprint() -> tuple[ModuleType, type]:
    # Without Pango, importing WeasyPrint prints a banner to stdout before it raises: that
    # must not reach govctl's own output.
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            import weasyprint
            from weasyprint.urls import URLFetcher  # (68 and later)
    except (ImportError, OSError) as exc:
        problem = str(exc).strip().splitlines()
        raise GovctlError(f"{_INSTALL}: {problem[0] if problem else type(exc).__name__}"
                          ) from None
    return weasyprint, URLFetcher


def check_pdf() -> None:
    """Fail with one line, before any work, when ``--pdf`` cannot be honoured."""
    _weasyprint()


def check_size(html: str) -> None:
    """Fail with one line when ``html`` is too large to print within the memory bound."""
    size = len(html.encode("utf-8"))
    elements = sum(1 for _ in _ELEMENT.finditer(html))  # (counted, never listed)
    if elements > MAX_ELEMENTS or size > MAX_BYTES:
        raise GovctlError(
            f"--pdf: index.html is too large to print ({elements:,} HTML elements, "
            f"{size // 1024:,} KiB; at most {MAX_ELEMENTS:,} and {MAX_BYTES // 1024:,} KiB): "
            "read index.html instead, or pack fewer use cases or a shorter period (--since)")


def html_to_pdf(html: str) -> bytes:
    """The PDF of ``html`` (A4 unless its CSS says otherwise), fetching nothing."""
    check_size(html)
    weasyprint, url_fetcher = _weasyprint()

    class Offline(url_fetcher):  # type: ignore[misc,valid-type]
        def fetch(self, url: str, headers: Any = None) -> Any:
            raise ValueError("govctl renders the PDF offline and fetches nothing")

        def __call__(self, url: str) -> Any:
            return self.fetch(url)

    return bytes(weasyprint.HTML(string=html, url_fetcher=Offline()).write_pdf())
