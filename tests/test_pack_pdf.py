"""`audit-pack --pdf`: the pack's index as a PDF (WeasyPrint), read back as a person and an
archive would — poppler's pdftoppm renders page 1 to a PNG, pdftotext reads the words — and
rendered offline: nothing a template or a record names is ever fetched.

The PNGs are kept beside each test (``pytest --basetemp DIR`` to look at them).
"""

from __future__ import annotations

import base64
import contextlib
import html
import json
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from govctl.errors import GovctlError
from tests.conftest import require_module, require_program
from tests.factory import AS_OF
from tests.history_support import assert_one_line_error
from tests.render_support import (
    SECOND_APPROVAL,
    USE_CASE,
    History,
    build_history,
    manifest_of,
    run_cli,
    sha256_file,
    write_observations,
)

# A4 at 80 dpi, as pdftoppm rounds it (595.28 × 841.89 pt)
A4_AT_80_DPI = (662, 936)


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> History:
    return build_history(tmp_path_factory.mktemp("history"))


def _tools() -> None:
    require_module("weasyprint", "the pdf extra: pip install '.[pdf]'")
    for program in ("pdftoppm", "pdftotext", "pdfimages"):
        require_program(program)


def _pdf_pack(history: History, out: Path, *args: object) -> Path:
    code, stdout, stderr = run_cli("audit-pack", USE_CASE, "-o", out, "--root", history.root,
                                   "--as-of", AS_OF, "--pdf", *args)
    assert code == 0, stderr
    assert f"wrote {out}" in stdout
    return out


def _text(pdf: Path, *args: str) -> str:
    return subprocess.run([require_program("pdftotext"), *args, "-layout", pdf, "-"],
                          capture_output=True, text=True, check=True, timeout=120).stdout


def _png_size(png: Path) -> tuple[int, int]:
    head = png.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR"
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")


@pytest.mark.external("weasyprint")
def test_the_pdf_is_the_index_a_person_can_read(history, tmp_path):
    _tools()
    observations = write_observations(tmp_path, "jsonl")
    pack = _pdf_pack(history, tmp_path / "pack", "--observations", observations)
    pdf = pack / "index.pdf"
    assert pdf.read_bytes().startswith(b"%PDF-")

    # listed in the manifest like every file, and the pack verifies
    entry = manifest_of(pack)["files"]["index.pdf"]
    assert entry == {"sha256": sha256_file(pdf), "size": pdf.stat().st_size}
    code, stdout, _ = run_cli("verify", pack)
    assert code == 0 and " intact " in stdout, stdout

    # page 1 as a person sees it: an A4 page with ink on it
    subprocess.run([require_program("pdftoppm"), "-png", "-r", "80", "-f", "1", "-l", "1",
                    "-singlefile", pdf, tmp_path / "page1"], check=True, timeout=120)
    png = tmp_path / "page1.png"
    assert _png_size(png) == A4_AT_80_DPI
    image = require_module("PIL.Image", "Pillow comes with WeasyPrint").open(png)
    ink = sum(image.convert("L").histogram()[:128])  # dark pixels
    assert ink > 5_000, ink  # text, not a blank page

    # the words: the use case, its verdict as index.html words it, the answers, and the
    # timeline's last column (a table wider than the page would lose it: pdftotext reads
    # only what is on the page)
    index = (pack / "index.html").read_text(encoding="utf-8")
    verdict = re.search(r'<p class="verdict [^"]*" data-verdict="breach">([^<]*?) —', index)
    assert verdict is not None, index[:2000]
    text = _text(pdf)
    first = _text(pdf, "-f", "1", "-l", "1")
    assert USE_CASE in first
    assert html.unescape(verdict.group(1)) in first  # the banner, on page 1
    assert "BREACH" in first
    assert "Who approved it?" in text and "Who is on the hook?" in text
    words = " ".join(text.split())
    # the current approval and its digest in full (in running text; in a table cell a
    # long id may wrap), both approval commits, and the signature column
    assert SECOND_APPROVAL in words and history.second_digest in words
    assert history.approval[:7] in words and history.reapproval[:7] in words
    assert "Signature" in words and "unsigned" in words
    assert "Evidence" in text  # the last section: nothing cut off at the end


@pytest.mark.external("weasyprint")
def test_the_pdf_is_a_function_of_the_index(history, tmp_path):
    _tools()
    from govctl.documents.pdf import html_to_pdf

    pack = _pdf_pack(history, tmp_path / "pack")
    index = (pack / "index.html").read_text(encoding="utf-8")
    # the same HTML, the same bytes: anyone can rebuild index.pdf from index.html
    assert html_to_pdf(index) == (pack / "index.pdf").read_bytes()


@contextlib.contextmanager
def _listener() -> Iterator[tuple[socket.socket, int]]:
    """A loopback port that records any connection (none may come)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.setblocking(False)
    try:
        yield server, server.getsockname()[1]
    finally:
        server.close()


def _connections(server: socket.socket) -> int:
    count = 0
    while True:
        try:
            conn, _ = server.accept()
        except BlockingIOError:
            return count
        conn.close()
        count += 1


@pytest.mark.external("weasyprint")
def test_rendering_fetches_nothing_a_template_or_record_names(history, tmp_path):
    _tools()
    # a real picture, as a local file and as a data: URL: neither may be read either
    picture = tmp_path / "picture.png"
    require_module("PIL.Image", "Pillow comes with WeasyPrint").new(
        "RGB", (40, 40), "red").save(picture)
    inline = "data:image/png;base64," + base64.b64encode(picture.read_bytes()).decode()
    templates = tmp_path / "templates"
    templates.mkdir()
    with _listener() as (server, port):
        remote = f"http://127.0.0.1:{port}"
        (templates / "pack_index.html.j2").write_text(f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>t</title>
<link rel="stylesheet" href="{remote}/style.css">
<link rel="attachment" href="{remote}/attachment.bin">
<style>@import url({remote}/import.css);
@font-face {{ font-family: far; src: url({remote}/font.woff); }}
body {{ font-family: far; background: url({remote}/background.png); }}</style></head>
<body><h1>{{{{ pack.use_cases[0].use_case.id }}}}</h1>
<img src="{remote}/image.png"><img src="{picture.as_uri()}"><img src="{inline}">
<object data="{remote}/object.svg"></object><embed src="{remote}/embed.svg">
<p>{{{{ pack.use_cases[0].use_case.title }}}}</p></body></html>
""", encoding="utf-8")
        pack = _pdf_pack(history, tmp_path / "pack", "--template", templates)
        assert _connections(server) == 0
    pdf = pack / "index.pdf"
    assert USE_CASE in _text(pdf)  # rendered, without what it names
    images = subprocess.run([require_program("pdfimages"), "-list", pdf], capture_output=True,
                            text=True, check=True, timeout=120).stdout.splitlines()
    assert images[2:] == [], images  # (a header of two lines, then one line per image)


def test_pdf_without_weasyprint_is_one_line_and_writes_nothing(govctl, history, tmp_path,
                                                                monkeypatch):
    monkeypatch.setitem(sys.modules, "weasyprint", None)  # import weasyprint → ImportError
    result = govctl("audit-pack", USE_CASE, "-o", tmp_path / "pack", "--root", history.root,
                    "--pdf")
    assert_one_line_error(result, "--pdf needs WeasyPrint", "pip install 'govctl-ai[pdf]'")
    assert not (tmp_path / "pack").exists()


def test_an_index_too_large_to_print_is_one_line_and_installs_no_pack(govctl, history,
                                                                     tmp_path, monkeypatch):
    """WeasyPrint's memory grows with what it lays out (SPEC §3: 300 MB): past the limits
    --pdf stops once index.html is rendered, and no pack is installed — an earlier one that
    --force would replace stays as it was."""
    require_module("weasyprint", "the pdf extra: pip install '.[pdf]'")
    from govctl.documents import pdf

    out = tmp_path / "packs" / "pack"
    code, _, stderr = run_cli("audit-pack", USE_CASE, "-o", out, "--root", history.root,
                              "--as-of", AS_OF)
    assert code == 0, stderr
    earlier = sha256_file(out / "manifest.json")
    monkeypatch.setattr(pdf, "MAX_ELEMENTS", 50)  # (this index has a few hundred)
    for args in ((tmp_path / "other",), (out, "--force")):
        result = govctl("audit-pack", USE_CASE, "-o", *args, "--root", history.root,
                        "--as-of", AS_OF, "--pdf")
        assert_one_line_error(result, "--pdf: index.html is too large to print (",
                              "at most 50 and 512 KiB", "read index.html instead",
                              "(--since)")
    assert not (tmp_path / "other").exists()
    assert sha256_file(out / "manifest.json") == earlier
    assert not (out / "index.pdf").exists()
    assert sorted(p.name for p in out.parent.iterdir()) == ["pack"]  # (no work left behind)


def test_the_print_limits_count_bytes_and_elements():
    from govctl.documents.pdf import MAX_BYTES, MAX_ELEMENTS, check_size

    check_size("<p>" * MAX_ELEMENTS)
    check_size("é" * (MAX_BYTES // 2))  # (bytes of UTF-8, not characters)
    for index in ("<p>" * (MAX_ELEMENTS + 1), "é" * (MAX_BYTES // 2 + 1),
                  "x" * (MAX_BYTES + 1)):
        with pytest.raises(GovctlError, match="too large to print"):
            check_size(index)
    check_size("&lt;p&gt;" * MAX_ELEMENTS * 2)  # escaped record text is no element


def test_no_pdf_without_asking(history, tmp_path):
    code, _, stderr = run_cli("audit-pack", USE_CASE, "-o", tmp_path / "pack", "--root",
                              history.root, "--as-of", AS_OF)
    assert code == 0, stderr
    assert not (tmp_path / "pack" / "index.pdf").exists()
    assert "index.pdf" not in json.loads((tmp_path / "pack" / "manifest.json").read_text())[
        "files"]
