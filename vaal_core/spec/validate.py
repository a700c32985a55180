"""Checks of values that are each well-typed but together cannot run, and the budget arithmetic
they share with the loop (one place: the loop asks these functions, never recomputes)."""

from __future__ import annotations

from ..errors import SpecError
from ..words import count
from .quirks import check_quirks
from .schema import Spec


def positive(value: float | int | None, key: str, allow_zero: bool = False) -> None:
    """A count or size that must be > 0 (>= 0 with `allow_zero`); None: not set."""
    if value is None:
        return
    if value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise SpecError(f"spec key '{key}' must be {bound}, got {value}")


def validate(spec: Spec) -> Spec:
    """Checks of values that are individually well-typed but cannot run (the keys strategies
    own are checked by their options, at preflight)."""
    a, t, d = spec.active, spec.task, spec.dataset
    positive(a.initial, "active.initial")
    positive(a.budget, "active.budget")
    positive(a.cycles, "active.cycles")
    positive(t.epochs, "task.epochs")
    positive(t.iterations, "task.iterations")
    positive(t.batch_size, "task.batch_size")
    positive(t.lr, "task.lr")
    positive(t.eval_batch_size, "task.eval_batch_size")
    positive(t.model_width, "task.model_width")
    positive(d.pool_size, "dataset.pool_size")
    positive(d.val_size, "dataset.val_size", allow_zero=True)
    positive(d.image_size, "dataset.image_size")
    positive(d.test_size, "dataset.test_size")
    positive(spec.runtime.log_every, "runtime.log_every")
    positive(t.val_every, "task.val_every")
    check_quirks(spec.protocol.quirks)
    if not 0 <= spec.protocol.label_noise < 1:
        raise SpecError(
            f"spec key 'protocol.label_noise' must lie in [0, 1), got {spec.protocol.label_noise}"
        )
    for c in spec.protocol.initial_classes:
        if c < 0:
            raise SpecError(f"spec key 'protocol.initial_classes' holds {c}; class ids are >= 0")
    if t.schedule == "step" and not (t.lr_step_fraction and 0 < t.lr_step_fraction <= 1):
        raise SpecError(
            f"spec key 'task.lr_step_fraction' must lie in (0, 1] with task.schedule: step, "
            f"got {t.lr_step_fraction}"
        )
    positive(t.lr_gamma, "task.lr_gamma")
    positive(d.cache_resolution, "dataset.cache_resolution")
    if d.val_fraction is not None and not 0 <= d.val_fraction < 1:
        raise SpecError(f"spec key 'dataset.val_fraction' must lie in [0, 1), got {d.val_fraction}")
    if spec.protocol.val_counts_against_budget and d.val_size >= initial_size(spec):
        raise SpecError(
            f"spec key 'dataset.val_size' ({d.val_size}) must be smaller than the initial labeled "
            f"set ({initial_size(spec)}) when protocol.val_counts_against_budget is true"
        )
    for m in t.lr_milestones:
        if not 0 < m < 1:
            raise SpecError(f"spec key 'task.lr_milestones' holds {m}; each must lie in (0, 1)")
    if not spec.strategies:
        raise SpecError("spec key 'strategies' must list at least one strategy")
    if not spec.seeds:
        raise SpecError("spec key 'seeds' must list at least one seed")
    if not spec.experiment or "/" in spec.experiment:
        raise SpecError(
            f"spec key 'experiment' must be a non-empty name without '/', got {spec.experiment!r}"
        )
    if d.pool_size is not None:
        final = initial_size(spec) + a.budget * (a.cycles - 1)
        if initial_size(spec) > d.pool_size:
            raise SpecError(
                f"spec key 'active.initial' ({initial_size(spec)}) is larger than 'dataset.pool_size' ({d.pool_size})"
            )
        if final > d.pool_size:
            raise SpecError(
                f"spec keys 'active.budget'/'active.cycles' would label {count(final, 'image')}, more than "
                f"'dataset.pool_size' ({d.pool_size}); lower the budget or the number of cycles"
            )
    return spec


def initial_size(spec: Spec) -> int:
    """Images labeled before the first cycle, validation included when it counts (see below)."""
    return spec.active.budget if spec.protocol.initial_size == "budget" else spec.active.initial


def initial_train_size(spec: Spec, val_size: int) -> int:
    """Labeled images the task model trains on in cycle 0.

    With `protocol.val_counts_against_budget` the validation labels are paid from the initial
    budget (Munjal et al., CVPR 2022; Lüth et al., NeurIPS 2023), so fewer images are trained on
    and every record's n_labeled includes the validation set (`labeled_offset`).
    """
    return initial_size(spec) - (val_size if spec.protocol.val_counts_against_budget else 0)


def labeled_offset(spec: Spec, val_size: int) -> int:
    """What to add to the training-set size to report the labels paid for."""
    return val_size if spec.protocol.val_counts_against_budget else 0


def resolved_val_size(spec: Spec, n_train: int) -> int:
    d = spec.dataset
    return round(d.val_fraction * n_train) if d.val_fraction is not None else d.val_size


def check_pool_fits(spec: Spec, available: int) -> None:
    """Budget checks that need the dataset's size (known only once it is located)."""
    a = spec.active
    final = initial_size(spec) + a.budget * (a.cycles - 1)
    if final > available:
        raise SpecError(
            f"spec asks for {final} labeled images (active.initial + active.budget * (cycles-1)) but "
            f"the pool of dataset '{spec.dataset.name}' holds only {available}"
        )
