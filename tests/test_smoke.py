"""The factory repository is clean; the CLI runs in-process and as `python -m govctl`."""

from __future__ import annotations

from tests.conftest import run_subprocess
from tests.factory import AS_OF


def test_factory_repo_validates_clean(factory, govctl):
    factory.build()
    result = govctl("validate", "--root", factory.root, "--as-of", AS_OF, "--format", "json")
    assert result.code == 0, result.stdout + result.stderr
    payload = result.json()
    assert payload["findings"] == []
    assert payload["records"] == 12


def test_python_dash_m_reports_version(tmp_path):
    from govctl import __version__

    result = run_subprocess("--version", cwd=tmp_path)
    assert result.code == 0
    assert result.stdout.strip() == f"govctl {__version__}"
