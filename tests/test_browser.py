"""The HTML card as a person sees it: rendered by a real browser (Debian's Chromium,
headless), its verdict banner's words and computed colours read back from the page.

The card itself carries no script; the test renders a copy with a probe appended that
writes the banner's computed style into the DOM, which ``--dump-dom`` returns. A
screenshot of each card is kept beside it (``pytest --basetemp DIR`` to look at it).
"""

from __future__ import annotations

import html
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import require_program

EXAMPLE = Path(__file__).resolve().parents[1] / "examples"
OBSERVATIONS = EXAMPLE / "observations" / "northwind-incident.jsonl"
AS_OF = "2026-11-27T12:00:00Z"
# the card's own palette (card.html.j2): the banner background per verdict level
BACKGROUND = {"bad": "rgb(255, 235, 233)", "warn": "rgb(255, 248, 197)",
              "cond": "rgb(221, 244, 255)", "ok": "rgb(218, 251, 225)"}
PROBE = """<script>
const banner = document.getElementById("verdict");
const style = getComputedStyle(banner);
document.body.setAttribute("data-probe-background", style.backgroundColor);
document.body.setAttribute("data-probe-border", style.borderTopColor);
document.body.setAttribute("data-probe-text", banner.querySelector("strong").innerText);
document.body.setAttribute("data-probe-visible", String(banner.getBoundingClientRect().height > 0));
</script>"""
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--window-size=1100,1000")


def chromium(tmp_path: Path, page: Path, *args: str) -> str:
    browser = require_program("chromium")
    proc = subprocess.run([browser, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", *args,
                           page.as_uri()], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def rendered(govctl: Any, tmp_path: Path, use_case: str) -> tuple[dict[str, str], Path]:
    card = tmp_path / f"{use_case}.html"
    result = govctl("card", use_case, "--root", EXAMPLE / "governance-repo", "--format", "html",
                    "-o", card, "--observations", OBSERVATIONS, "--as-of", AS_OF)
    assert result.code == 0, result.stderr
    assert "<script" not in card.read_text(encoding="utf-8")  # the card runs nothing
    probed = tmp_path / f"{use_case}.probed.html"
    probed.write_text(card.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"),
                      encoding="utf-8")
    dom = chromium(tmp_path, probed, "--dump-dom")
    body = re.search(r"<body([^>]*)>", dom)
    assert body is not None, dom[:500]
    probe = {k: html.unescape(v) for k, v in re.findall(r'data-probe-(\w+)="([^"]*)"',
                                                         body.group(1))}
    shot = tmp_path / f"{use_case}.png"
    chromium(tmp_path, card, f"--screenshot={shot}")
    assert shot.stat().st_size > 10_000  # a rendered page, not an empty image
    return probe, shot


@pytest.mark.external("chromium")
def test_a_breach_is_a_red_banner_in_a_real_browser(govctl, tmp_path):
    probe, _ = rendered(govctl, tmp_path, "member-support-assistant")
    assert probe["visible"] == "true"
    assert probe["text"] == "✖ BREACH."
    assert probe["background"] == BACKGROUND["bad"]
    assert probe["border"] == "rgb(207, 34, 46)"  # --bad


@pytest.mark.external("chromium")
def test_an_unapproved_digest_serving_is_a_red_banner_in_a_real_browser(govctl, tmp_path):
    probe, _ = rendered(govctl, tmp_path, "claims-complaints-agent")
    assert probe["text"] == "✖ UNAPPROVED BUNDLE SERVING."
    assert probe["background"] == BACKGROUND["bad"]


@pytest.mark.external("chromium")
def test_a_current_use_case_is_green_only_with_evidence(govctl, tmp_path):
    probe, _ = rendered(govctl, tmp_path, "card-fraud-scoring")
    assert probe["text"] == "✔ CURRENT."
    assert probe["background"] == BACKGROUND["ok"]
