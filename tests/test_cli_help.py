"""Every flag explained: a walk over every command line of the suite (`python -m vaal_core` and
its `run`, `demo`, `select`; `python -m analysis` and its subcommands; `python -m slurm.sweep`)
fails on an argument without help text, on a command whose description does not name its
subcommands, and on an entry point without a `--version` that names the program as typed."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from vaal_core.cli import suite_version

REPO = Path(__file__).resolve().parent.parent


def _parsers() -> dict[str, argparse.ArgumentParser]:
    from analysis.__main__ import _parser as analysis_parser
    from slurm.sweep import _parser as sweep_parser
    from vaal_core.__main__ import _parser as vaal_parser

    return {
        "python -m vaal_core": vaal_parser(),
        "python -m analysis": analysis_parser(),
        "python -m slurm.sweep": sweep_parser(),
    }


def _walk(parser: argparse.ArgumentParser):
    """(parser, its subcommand parsers by name) for the parser and every subparser below it."""
    subs = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            subs = dict(action.choices)
    yield parser, subs
    for sub in subs.values():
        yield from _walk(sub)


def _every_parser():
    for name, top in _parsers().items():
        for parser, subs in _walk(top):
            yield name, parser, subs


def test_every_argument_of_every_command_has_help():
    missing = []
    for _, parser, _ in _every_parser():
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                named = {a.dest for a in action._choices_actions}
                missing += [
                    f"{parser.prog} {c} (no help)" for c in action.choices if c not in named
                ]
                continue
            text = action.help
            if text is argparse.SUPPRESS:
                continue
            if not text or not str(text).strip():
                flag = "/".join(action.option_strings) or action.dest
                missing.append(f"{parser.prog}: {flag}")
    assert not missing, "arguments without help text:\n" + "\n".join(missing)


def test_each_command_description_names_its_subcommands():
    for _, parser, subs in _every_parser():
        for name in subs:
            assert parser.description and f"{name}" in parser.description, (
                f"{parser.prog}'s description does not name its subcommand '{name}'"
            )


def test_the_sweep_description_names_its_status_and_plan_modes():
    description = _parsers()["python -m slurm.sweep"].description
    assert "--status" in description and "--plan" in description


@pytest.mark.parametrize("module", ["vaal_core", "analysis", "slurm.sweep"])
def test_version_names_the_program_as_typed(module):
    proc = subprocess.run(
        [sys.executable, "-m", module, "--version"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"python -m {module} {suite_version()}"


def _console_scripts(pyproject: Path) -> dict[str, str]:
    """name -> "module:function" of the `[project.scripts]` table (tomllib needs Python 3.11)."""
    table = pyproject.read_text().split("[project.scripts]", 1)[1].split("\n[", 1)[0]
    pairs = (ln.split("=", 1) for ln in table.splitlines() if "=" in ln and not ln.startswith("#"))
    return {k.strip(): v.strip().strip('"') for k, v in pairs}


def test_every_console_script_names_itself_in_version():
    """pyproject.toml's console scripts: each target exists and its `--version` says the script's
    own name (`vaal 0.1.0`, not `python -m vaal_core 0.1.0`)."""
    scripts = _console_scripts(REPO / "pyproject.toml")
    assert scripts, "no console scripts declared"
    for name, target in scripts.items():
        module, _, func = target.partition(":")
        code = f"import sys; sys.argv = [{name!r}, '--version']; import {module} as m; m.{func}()"
        proc = subprocess.run(
            [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300
        )
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.strip() == f"{name} {suite_version()}"
