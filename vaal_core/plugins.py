"""The one registration point for strategies and everything else outside the loop: plug-ins.

A plug-in is an importable module (or package) that registers entries on import: strategies
(`vaal_core.strategies.register_strategy`), dataset layouts (`vaal_core.datasets.register_dataset`),
task models (`vaal_core.models.register_model`), task kinds (`vaal_core.tasks.register_task_kind`),
launchers (`slurm.launchers.register_launcher`). Two ways to name one, both additive:
- the Python entry-point group `vaal_core.plugins` of any installed package (this suite's own
  sampler, VAAL, and its baselines are found this way: pyproject.toml), and
- `$VAAL_PLUGINS`, a comma-separated list of module names importable from `sys.path`
  (`PYTHONPATH`), for a module of one's own that is not packaged.

Registries load the plug-ins when asked for a name they do not hold, so nothing in the engine
imports a strategy by name, and a run that needs none never imports one. Launched runs (local
processes, SLURM tasks, DDP ranks) inherit the environment and the installation, hence the same
plug-ins. No torch here: the registries of torch-free modules call this too.
"""

from __future__ import annotations

import importlib
import os
from importlib.metadata import entry_points

from .errors import PluginError

ENV = "VAAL_PLUGINS"
GROUP = "vaal_core.plugins"


def installed_plugins() -> tuple[str, ...]:
    """Modules that installed packages declare in the entry-point group, sorted by name."""
    return tuple(ep.value for ep in sorted(entry_points(group=GROUP), key=lambda ep: ep.name))


def env_plugins() -> tuple[str, ...]:
    """The modules `$VAAL_PLUGINS` names."""
    raw = os.environ.get(ENV, "")
    return tuple(name.strip() for name in raw.split(",") if name.strip())


def plugin_modules() -> tuple[str, ...]:
    """Every plug-in module, installed ones first, each once."""
    return tuple(dict.fromkeys((*installed_plugins(), *env_plugins())))


def not_installed_hint() -> str:
    """What to say when the suite's own entries are missing: its package is not installed."""
    if installed_plugins():
        return ""
    return (
        f" (no package declares the entry-point group '{GROUP}': the suite is not installed in "
        "this Python; run `make venv` or `pip install -e .` in the repository)"
    )


def load_plugins() -> None:
    """Import every plug-in module (Python imports each once)."""
    for module in plugin_modules():
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as e:
            if e.name is None or not (module == e.name or module.startswith(e.name + ".")):
                raise  # the plug-in exists but imports something missing: its own bug
            where = (
                f"${ENV} names module '{module}'"
                if module in env_plugins()
                else f"an installed package's entry point ({GROUP}) names module '{module}'"
            )
            raise PluginError(
                f"{where}, which is not importable (looked on sys.path: add its directory to "
                f"PYTHONPATH); ${ENV}={os.environ.get(ENV, '')!r}"
            ) from e
