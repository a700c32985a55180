"""Names a spec validates before torch loads, one list per declared registry.

`vaal_core.spec` reads these to reject a bad spec in milliseconds, before the CLI imports torch;
each registry that holds the entries (`Registry(..., declared=...)`) checks at import time that
it registers exactly these names, so the two cannot drift. Adding an optimiser, a schedule, an
augmentation or a task kind means its entry in its module plus its name here.
"""

from __future__ import annotations

TASK_KINDS = ("classification", "segmentation")  # vaal_core/tasks/ TASKS
OPTIMIZERS = ("sgd", "adam")  # vaal_core/schedules.py OPTIMIZERS
SCHEDULES = ("constant", "multistep", "step", "cosine")  # vaal_core/schedules.py SCHEDULES
# vaal_core/augment.py: AUGMENTATIONS (image batches) and PAIR_AUGMENTATIONS (image + mask)
AUGMENTATIONS = ("flip", "crop_flip", "rrc_flip")
PAIR_AUGMENTATIONS = ("seg_crop_flip", "seg_flip")
# `standard` / `light` name a dataset's own choice among the above (`augment_presets`)
AUGMENTATION_PRESETS = ("standard", "light")
