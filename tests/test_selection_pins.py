"""Selections pinned across refactors: the sha1 of every cycle's selected indices of tiny runs,
one per strategy, computed on the code before the engine was reshaped. A structural change that
alters what a strategy picks at a fixed seed (a pass cached under another key, a member trained
another way, a changed random stream) fails here; an intended change of a strategy updates its
pin in the same commit and says why.

CPU, fp32, one thread: the same seed gives the same selection on the same hardware.
"""

from __future__ import annotations

import pytest

from tests.helpers import TINY_OVERRIDES, tiny_spec
from tests.test_segmentation import seg_root, seg_spec  # noqa: F401  (fixture)
from vaal_core.run.loop import ActiveLoop
from vaal_core.spec import load_spec

# strategy -> selected_sha1 of cycles 0 and 1 of a three-cycle tiny MNIST run, seed 0
CLASSIFICATION_PINS = {
    "badge": [
        "333356ca66bdf453252e1aa8242e26d9ef291e19",
        "cf85adf72263b7fc9581613790830e82ddd66cd9",
    ],
    "coreset": [
        "ffce0a6abdc788efde461151d3012decef4e21e5",
        "94fc2b5ceb0a433f970ad062e7a21a01a536efe2",
    ],
    "dbal": [
        "68abc0037fd4469036c5fa3f9d216c202ba9ddf3",
        "b927d301e78c03ea46b57acd3924902166e909a7",
    ],
    "ensemble_varr": [
        "a27131f64a5ce408df68058c35f9250879200f96",
        "30996e32d73802cd32a433b19b809e25c28c6992",
    ],
    "entropy": [
        "abb0129d4d7bf64541b8105c2176489bf659d0d5",
        "203ec5be4f01ac0a0d6de3c7232df807b2108ba5",
    ],
    "least_confidence": [
        "065a3d8a004d0ce77f98d0bcfee128fb34cbbdef",
        "42bf0037cbc5339cdf1bb7525f4baab057f41b0e",
    ],
    "margin": [
        "f1e499d5914d788c72f037ca82c99c1d5ecd83db",
        "cbfc30df70a19476383d18ce3f06575b6a4fe249",
    ],
    "mc_dropout": [
        "b4cb33aa79f66a06185e220d741b5d9749b2b3bf",
        "4f5a4e9c30b8a900ded90ac31ba45f14b37f0346",
    ],
    "random": [
        "be1419d36a92a6a3d408edb91cc165b106de23e0",
        "9af3913491392101243746b063a59f02228a5b3b",
    ],
    "typiclust": [
        "f49b9914a5781fbf83424ae3b5e5bf0cf0b3734d",
        "10dfaa9ad688d5ad5c11ed3ed9ae288b96ddab7d",
    ],
    "vaal": [
        "2be62b679760fc0658fe0b9f4cb0daa97fc1905d",
        "2243fb72716d1f8c6f7ba7a7f450b03aeaec486f",
    ],
}

SEGMENTATION_PINS = {
    "coreset": ["19d472d1661878da31dc13e4c99d0455f2ac03bd"],
    "mc_dropout": ["5f15310269eaf583eb0fad52bc33fcc94b74e81c"],
    "qbc": ["95f2a5b22f213fb1e26acfc0a2b006a14ebbd9b1"],
    "random": ["6b7794a3f8c965d9ebc86d97ab3e722f6e64c510"],
    "suggestive_annotation": ["bfc7e924eea68b337b7599cc5e3dcbda910e662d"],
    "vaal": ["1d9c331bbee21230cdc3cc2480d1cc249a5f51a6"],
}


def _selected(recs):
    return [r["selected_sha1"] for r in recs if r["selected_sha1"] is not None]


@pytest.mark.parametrize("strategy", sorted(CLASSIFICATION_PINS))
def test_classification_selection_is_pinned(strategy, mnist, tmp_path):
    spec = tiny_spec(baselines={"mc_samples": 3, "ensemble_size": 2})
    recs = ActiveLoop(spec, strategy, 0, tmp_path, progress=False, data=mnist).run()
    assert _selected(recs) == CLASSIFICATION_PINS[strategy]


@pytest.mark.parametrize("strategy", sorted(SEGMENTATION_PINS))
def test_segmentation_selection_is_pinned(strategy, seg_root, tmp_path):  # noqa: F811
    recs = ActiveLoop(seg_spec("cityscapes"), strategy, 0, tmp_path, seg_root, progress=False).run()
    assert _selected(recs) == SEGMENTATION_PINS[strategy]


# VAAL under the exact presets (their quirks and the original initialisation; two epochs of the
# labeled set instead of the presets' iteration formula, which would train for minutes)
EXACT_PINS = {
    "release-exact": [
        "094b9f8ce694adcb3e275153bb6c8b306c27b117",
        "626c5be54ff112ed5b760accfd2bcaff0f1df326",
    ],
    "paper-exact": [
        "85067c5f68f706c03eff5e89c424aac80dedf370",
        "8de6b043322590cff79d17e36461961399c6afb7",
    ],
}


@pytest.mark.parametrize("protocol", sorted(EXACT_PINS))
def test_exact_preset_vaal_selection_is_pinned(protocol, mnist, tmp_path):
    overrides = [
        *TINY_OVERRIDES,
        "task.iterations=null",
        "task.epochs=2",
        "task.epoch_basis=labeled",
    ]
    spec = load_spec("experiments/mnist.yaml", overrides, protocol=protocol)
    recs = ActiveLoop(spec, "vaal", 0, tmp_path, progress=False, data=mnist).run()
    assert _selected(recs) == EXACT_PINS[protocol]
