"""Names a spec validates before torch loads, one list per declared registry.

`vaal_core.spec` reads these to reject a bad spec in milliseconds, before the CLI imports torch;
each registry that holds the entries (`Registry(..., declared=...)`) checks at import time that
it registers exactly these names, so the two cannot drift. Adding an optimiser, a schedule or an
augmentation means its entry in its module plus its name here. Task kinds, datasets, strategies,
task models and launchers are open registries instead (a plug-in adds to them): their names are
checked at preflight, after the registries load, and still before any data is read.
"""

from __future__ import annotations

OPTIMIZERS = ("sgd", "adam")  # vaal_core/train/schedules.py OPTIMIZERS
SCHEDULES = ("constant", "multistep", "step", "cosine")  # vaal_core/train/schedules.py SCHEDULES
# vaal_core/train/augment.py: AUGMENTATIONS (image batches) and PAIR_AUGMENTATIONS (image + mask)
AUGMENTATIONS = ("flip", "crop_flip", "rrc_flip")
PAIR_AUGMENTATIONS = ("seg_crop_flip", "seg_flip")
# `standard` / `light` name a dataset's own choice among the above (`augment_presets`)
AUGMENTATION_PRESETS = ("standard", "light")
