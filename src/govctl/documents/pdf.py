"""`audit-pack --pdf`: the pack's ``index.html`` as ``index.pdf``, for archives.

Rendered by WeasyPrint (the ``pdf`` extra, with Pango from the system), without a browser.
Rendering is offline: every URL WeasyPrint asks for — an image, a stylesheet, a font, an
attachment, whether a custom template wrote it or record text ever got past the HTML
escaping — is refused, so nothing is read or fetched and what it would have shown is left
out. Relative links (``mapping.md``) stay links, to the files beside the PDF. The same HTML
gives the same bytes.
"""

from __future__ import annotations

import contextlib
import io
from types import ModuleType
from typing import Any

from govctl.errors import GovctlError

PDF = "index.pdf"
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


def html_to_pdf(html: str) -> bytes:
    """The PDF of ``html`` (A4 unless its CSS says otherwise), fetching nothing."""
    weasyprint, url_fetcher = _weasyprint()

    class Offline(url_fetcher):  # type: ignore[misc,valid-type]
        def fetch(self, url: str, headers: Any = None) -> Any:
            raise ValueError("govctl renders the PDF offline and fetches nothing")

        def __call__(self, url: str) -> Any:
            return self.fetch(url)

    return bytes(weasyprint.HTML(string=html, url_fetcher=Offline()).write_pdf())
