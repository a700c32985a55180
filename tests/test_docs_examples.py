"""The manual's examples run as written: each test takes a page's code blocks and executes them,
so a page cannot drift from the code it documents."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DOCS = REPO / "docs"
DATA_ROOT = Path(os.environ.get("DATA_ROOT") or REPO / "data").resolve()


def code_blocks(page: str, language: str) -> list[str]:
    """The fenced ```<language> blocks of docs/<page>, in order."""
    text = (DOCS / page).read_text()
    return re.findall(rf"^```{language}\n(.*?)^```", text, flags=re.S | re.M)


def _python(code: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, "DATA_ROOT": str(DATA_ROOT), **(env or {})},
        timeout=600,
    )


def test_the_api_page_example_runs_on_mnist():
    (example,) = code_blocks("api.md", "python")
    r = _python(example, REPO)
    assert r.returncode == 0, r.stderr
    assert "VAAL picks" in r.stdout and "entropy picks" in r.stdout, r.stdout
