"""The one registration point for code outside the engine: `$VAAL_PLUGINS`.

A plug-in is an importable module (or package) that registers entries on import: strategies
(`vaal_core.strategies.register_strategy`), dataset layouts (`vaal_core.datasets.register_dataset`),
task models (`vaal_core.models.register_model`), task kinds (`vaal_core.tasks.register_task_kind`),
launchers (`slurm.launchers.register_launcher`).
`$VAAL_PLUGINS` is a comma-separated list of such module names, importable from `sys.path`
(`PYTHONPATH`); unset, it is `baselines`, the suite's own baseline strategies. Setting it replaces
the default, so `VAAL_PLUGINS=baselines,my_lab.plugins` keeps the baselines and adds one's own.

Registries load the plug-ins when asked for a name they do not hold, so nothing imports a
plug-in by name inside the engine, and a run that needs none never imports one. Launched runs
(local processes, SLURM tasks, DDP ranks) inherit the environment, hence the same plug-ins.
No torch here: the registries of torch-free modules call this too.
"""

from __future__ import annotations

import importlib
import os

from .errors import PluginError

ENV = "VAAL_PLUGINS"
DEFAULT = ("baselines",)
# engine modules that register entries on import but are not imported by the registry's module
# (the VAAL strategy itself lives beside the engine, not in a plug-in)
BUILTIN = ("vaal_core.vaal",)


def plugin_modules() -> tuple[str, ...]:
    """The modules `$VAAL_PLUGINS` names (the default when unset)."""
    raw = os.environ.get(ENV)
    if raw is None:
        return DEFAULT
    return tuple(name.strip() for name in raw.split(",") if name.strip())


def load_plugins() -> None:
    """Import the built-in registering modules and every plug-in (Python imports each once)."""
    for module in BUILTIN:
        importlib.import_module(module)
    for module in plugin_modules():
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as e:
            if e.name is None or not (module == e.name or module.startswith(e.name + ".")):
                raise  # the plug-in exists but imports something missing: its own bug
            raise PluginError(
                f"${ENV} names module '{module}', which is not importable (looked on sys.path: "
                f"add its directory to PYTHONPATH); ${ENV}={os.environ.get(ENV, '')!r}"
            ) from e
