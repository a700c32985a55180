"""Every repository path the documentation and the code's comments name exists.

Files move (a module split into a package, a test renamed); a page or a comment that still names
the old path sends the next reader to nothing. Paths under tests/ that a test names on purpose as
missing are not in the pages or comments checked here."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
NAMED = re.compile(
    r"(?<![\w/.-])((?:vaal_core|baselines|analysis|slurm|benchmarks|tests|plots|experiments|docs)"
    r"/[\w/.-]*\.(?:py|md|yaml|ipynb))"
)
PAGES = ["README.md", "Makefile", "docs/*.md", "benchmarks/*.md"]
CODE = ["vaal_core/**/*.py", "baselines/*.py", "analysis/*.py", "slurm/*.py", "benchmarks/*.py"]


def _named(files: list[Path]) -> dict[str, list[str]]:
    missing: dict[str, list[str]] = {}
    for f in files:
        for m in NAMED.finditer(f.read_text()):
            path = m.group(1).rstrip(".")
            if not (REPO / path).exists():
                missing.setdefault(path, []).append(str(f.relative_to(REPO)))
    return missing


def test_every_path_a_page_or_comment_names_exists():
    files = sorted({p for pattern in PAGES + CODE for p in REPO.glob(pattern)})
    missing = _named(files)
    assert not missing, "named but not in the repository: " + "; ".join(
        f"{path} (in {', '.join(sorted(set(where)))})" for path, where in sorted(missing.items())
    )
