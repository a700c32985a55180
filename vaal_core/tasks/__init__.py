"""Task kinds: what differs between classification and semantic segmentation, one module each.

A kind (`base.TaskKind`) owns its loss, its metric, how a training batch is assembled and
augmented, the evaluation view of an image AND its pool inference (logits, embeddings, MC-dropout
passes, per-pixel scores reduced to one per image). The trainer, `evaluate`, the query context and
the strategies ask the kind of their data; none of them branches on it.

This import list is the one registration point of the engine's kinds: a new kind is its module
plus its line here, or a plug-in module ($VAAL_PLUGINS) that calls `register_task_kind`.
"""

from .base import (
    TASKS,
    Embedded,
    Evaluation,
    MCSummary,
    TaskKind,
    get_task,
    mean_over_valid,
    register_task_kind,
)
from .classification import CLASSIFICATION, Classification
from .segmentation import (
    IGNORE_INDEX,
    SEGMENTATION,
    Segmentation,
    confusion_matrix,
    iou_from_confusion,
)

__all__ = [
    "CLASSIFICATION",
    "IGNORE_INDEX",
    "SEGMENTATION",
    "TASKS",
    "Classification",
    "Embedded",
    "Evaluation",
    "MCSummary",
    "Segmentation",
    "TaskKind",
    "confusion_matrix",
    "get_task",
    "iou_from_confusion",
    "mean_over_valid",
    "register_task_kind",
]
