"""Messages a user reads: counts agree with their nouns (one helper, vaal_core/words.py), the
Python API's errors name the API's own arguments, and every unknown key gets "did you mean"."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vaal_core.words import count, verb


@pytest.mark.parametrize(
    "n, noun, text",
    [
        (1, "image", "1 image"),
        (2, "image", "2 images"),
        (0, "file", "0 files"),
        (1, "class", "1 class"),
        (3, "class", "3 classes"),
        (1, "class folder", "1 class folder"),
        (2, "class folder", "2 class folders"),
        (1, "run", "1 run"),
        (2, "entry", "2 entries"),
        (2, "strategy", "2 strategies"),
        (2, "key", "2 keys"),
        (2, "index", "2 indices"),
        (2, "unlabeled image", "2 unlabeled images"),
    ],
)
def test_count_agrees_with_its_noun(n, noun, text):
    assert count(n, noun) == text


def test_verb_agrees_with_its_count():
    assert verb(1, "does", "do") == "does" and verb(2, "does", "do") == "do"


def test_a_sweep_of_one_run_says_1_run():
    from slurm.status import RunStatus, format_table

    row = RunStatus("random", 0, 0, 2, "not submitted", None, None, None)
    assert format_table([row]).splitlines()[-1] == "1 run: 1 not submitted"


def test_the_apis_budget_error_names_the_apis_arguments():
    """Not the spec keys active.budget / active.cycles, which an API user never wrote."""
    from vaal_core.api import get_strategy
    from vaal_core.errors import SpecError

    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 2))
    labeled = (np.zeros((2, 8, 8), np.uint8), np.array([0, 1]))
    with pytest.raises(SpecError) as e:
        get_strategy("random").select_from(model, np.zeros((1, 8, 8), np.uint8), labeled, 2)
    text = str(e.value)
    assert "active." not in text, text
    assert "select_from's budget 2 is larger than the 1 unlabeled image left" in text
    assert "a budget of at most len(unlabeled) = 1" in text


def test_a_mistyped_strategy_option_gets_did_you_mean():
    from vaal_core.errors import SpecError
    from vaal_core.spec import load_spec
    from vaal_core.strategies import check_owned_options

    spec = load_spec("experiments/mnist.yaml", ["baselines.mc_sample=3"])
    with pytest.raises(
        SpecError,
        match=r"'baselines.mc_sample' \(did you mean 'baselines.mc_samples'\?\); valid keys: ",
    ):
        check_owned_options(spec)


def test_a_mistyped_cluster_option_gets_did_you_mean(tmp_path):
    from slurm.options import OptionsError, load_profile

    profile = tmp_path / "lab.yaml"
    profile.write_text("partiton: gpu\n")
    with pytest.raises(
        OptionsError,
        match=r"unknown cluster option partiton \(did you mean 'partition'\?\); valid: ",
    ):
        load_profile(str(profile))


def test_a_mistyped_image_folder_key_gets_did_you_mean():
    from vaal_core.datasets import DatasetError, LoadOptions
    from vaal_core.datasets.imagefolder import folder_options

    with pytest.raises(DatasetError, match=r"\(did you mean 'dataset.skip_unreadable'\?\)"):
        folder_options(LoadOptions(owned=(("skip_unreadabel", True),)))
