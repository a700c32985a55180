"""`runtime.compile`: step functions through torch.compile, with a clean fallback to eager.

On CUDA the mode is "reduce-overhead": inductor's kernels replayed as CUDA graphs, so a step is
one graph launch instead of hundreds of kernel launches. CUDA graphs need static shapes, so
compilation is `dynamic=False`: a full batch and the smaller last batch of a pass each get their
own graph (two shapes per step function, not one per batch). On CPU the default inductor mode
(C++/OpenMP kernels, oneDNN for convolutions) is used.

A model that does not compile (an op dynamo cannot trace, a backend error) must not stop a run:
the first failure is logged once per step name and that step runs eagerly from then on, with the
same results. `fallbacks` lists the step names that fell back (written to the cycle record).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import torch

log = logging.getLogger("vaal_core")

# the torch.compile backend; a test swaps in one that fails, to exercise the fallback
BACKEND: str | Callable = "inductor"


def compile_mode(device: torch.device) -> str | None:
    """CUDA graphs on the GPU (the launch overhead is what they remove); inductor's default on CPU."""
    return "reduce-overhead" if device.type == "cuda" else None


class CompiledStep:
    """`fn` through torch.compile when `enabled`; on any compile failure, eager `fn` for good.

    `then(out)` runs after `fn` inside the same guard: a training step passes its backward pass,
    whose graph AOTAutograd may compile lazily, so that is where compilation can fail too;
    `before()` runs first on every attempt (a training step zeroes its gradients there, so a
    backward that failed halfway leaves nothing behind). Runtime errors that are not compile
    errors recur in the eager rerun and propagate from there.
    """

    def __init__(self, fn: Callable, name: str, device: torch.device, enabled: bool):
        self.eager, self.name, self.device = fn, name, device
        self.fallen_back = False
        self._fn = fn
        if enabled:
            mode = compile_mode(device)
            kwargs = {"mode": mode} if mode and isinstance(BACKEND, str) else {}
            self._fn = torch.compile(fn, backend=BACKEND, dynamic=False, **kwargs)

    @property
    def compiled(self) -> bool:
        return self._fn is not self.eager

    def __call__(
        self,
        *args: Any,
        before: Callable[[], None] | None = None,
        then: Callable[[Any], None] | None = None,
    ) -> Any:
        if not self.compiled:
            return self._run(self.eager, args, before, then)
        try:
            if self.device.type == "cuda":  # a new iteration: earlier graph outputs may be reused
                torch.compiler.cudagraph_mark_step_begin()
            return self._run(self._fn, args, before, then)
        except Exception as e:  # noqa: BLE001 - any compiler failure means: run eagerly
            root = e  # dynamo wraps the backend's own error: report that one
            while (inner := getattr(root, "inner_exception", None) or root.__cause__) is not None:
                root = inner
            lines = [ln for ln in str(root).splitlines() if ln.strip()]
            log.warning(
                "runtime.compile: %s does not compile (%s: %s); running it eagerly",
                self.name,
                type(root).__name__,
                lines[0] if lines else "",
            )
            self._fn, self.fallen_back = self.eager, True
            return self._run(self.eager, args, before, then)

    @staticmethod
    def _run(fn: Callable, args: tuple, before, then) -> Any:
        if before is not None:
            before()
        out = fn(*args)
        if then is not None:
            then(out)
        return out
