"""Every shipped spec, as loaded under every protocol preset, keeps its hash and its spec.yaml
bytes, and so do a few `vaal.*` overrides that test how a value was typed and when it was
written (an int for a float, a key at its default). The table was computed by the code before
VAAL's settings moved from the engine's schema to the VAAL strategy's own options:
moving where a setting is declared must change no run's identity.

Each value: (spec hash, first 12 hex of the sha1 of `to_yaml()`).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from vaal_core.spec import load_spec
from vaal_core.spec.protocols import PRESETS

REPO = Path(__file__).resolve().parent.parent

# (spec file, protocol preset or "" for the file's own) -> (hash, spec.yaml sha1)
PINNED = {
    ("experiments/ablations/caltech256_biased20.yaml", ""): ("e92e1d7c40ad", "b77c87b16476"),
    ("experiments/ablations/caltech256_biased20.yaml", "standard"): (
        "8f1349f30ee8",
        "923258618a48",
    ),
    ("experiments/ablations/caltech256_biased20.yaml", "modern"): ("dc4a5bb44c87", "f4048539706e"),
    ("experiments/ablations/caltech256_biased20.yaml", "paper"): ("e92e1d7c40ad", "b77c87b16476"),
    ("experiments/ablations/caltech256_biased20.yaml", "paper-exact"): (
        "b538550d92b6",
        "b01b794b63b7",
    ),
    ("experiments/ablations/caltech256_biased20.yaml", "release"): ("c198632491ba", "7dbd6b7056da"),
    ("experiments/ablations/caltech256_biased20.yaml", "release-exact"): (
        "cac8c3820264",
        "d207b7f7519d",
    ),
    ("experiments/ablations/cifar100_biased10.yaml", ""): ("bf06785e6e23", "0300d4935108"),
    ("experiments/ablations/cifar100_biased10.yaml", "standard"): ("78d7a6fa5227", "3a139bb29458"),
    ("experiments/ablations/cifar100_biased10.yaml", "modern"): ("e5ff8e1ad9a6", "d4192e1d9849"),
    ("experiments/ablations/cifar100_biased10.yaml", "paper"): ("bf06785e6e23", "0300d4935108"),
    ("experiments/ablations/cifar100_biased10.yaml", "paper-exact"): (
        "57a8d37993d6",
        "a23691f86aec",
    ),
    ("experiments/ablations/cifar100_biased10.yaml", "release"): ("a69e6fbb6fce", "1ddff1065c81"),
    ("experiments/ablations/cifar100_biased10.yaml", "release-exact"): (
        "108d0c86988b",
        "e0fd9c8e6042",
    ),
    ("experiments/ablations/cifar100_biased20.yaml", ""): ("0ad37c11133f", "992c9f8afb97"),
    ("experiments/ablations/cifar100_biased20.yaml", "standard"): ("6af7e0f83aaf", "b843dece8fe1"),
    ("experiments/ablations/cifar100_biased20.yaml", "modern"): ("ebcad4e9e823", "aca42d47a4da"),
    ("experiments/ablations/cifar100_biased20.yaml", "paper"): ("0ad37c11133f", "992c9f8afb97"),
    ("experiments/ablations/cifar100_biased20.yaml", "paper-exact"): (
        "72e43959482d",
        "768ef2dfeab3",
    ),
    ("experiments/ablations/cifar100_biased20.yaml", "release"): ("e506a45dbf42", "2c6657a7c35c"),
    ("experiments/ablations/cifar100_biased20.yaml", "release-exact"): (
        "acd5d5cc3c1f",
        "0f02a6122d8f",
    ),
    ("experiments/ablations/cifar100_budget_large.yaml", ""): ("fc554d87c160", "00ada64c35db"),
    ("experiments/ablations/cifar100_budget_large.yaml", "standard"): (
        "f0e357afd9e0",
        "d43a9665dc8b",
    ),
    ("experiments/ablations/cifar100_budget_large.yaml", "modern"): (
        "1e443ebc7077",
        "694a3d2cb295",
    ),
    ("experiments/ablations/cifar100_budget_large.yaml", "paper"): ("fc554d87c160", "00ada64c35db"),
    ("experiments/ablations/cifar100_budget_large.yaml", "paper-exact"): (
        "a73fc9096852",
        "7596644596ee",
    ),
    ("experiments/ablations/cifar100_budget_large.yaml", "release"): (
        "18a3054d9656",
        "0cbbc6b72d35",
    ),
    ("experiments/ablations/cifar100_budget_large.yaml", "release-exact"): (
        "7ba873193d47",
        "0ea42546e64d",
    ),
    ("experiments/ablations/cifar100_budget_xlarge.yaml", ""): ("3fcef5bde2be", "ab19101eb589"),
    ("experiments/ablations/cifar100_budget_xlarge.yaml", "standard"): (
        "46f64dbcf8f7",
        "890ffeaf0281",
    ),
    ("experiments/ablations/cifar100_budget_xlarge.yaml", "modern"): (
        "df109cc3e795",
        "291432bd057f",
    ),
    ("experiments/ablations/cifar100_budget_xlarge.yaml", "paper"): (
        "3fcef5bde2be",
        "ab19101eb589",
    ),
    ("experiments/ablations/cifar100_budget_xlarge.yaml", "paper-exact"): (
        "5d2fa25e903e",
        "af3007b96c70",
    ),
    ("experiments/ablations/cifar100_budget_xlarge.yaml", "release"): (
        "44d63f8bfa83",
        "e1993d5af2b8",
    ),
    ("experiments/ablations/cifar100_budget_xlarge.yaml", "release-exact"): (
        "dbec91e80cef",
        "7d03287d92a6",
    ),
    ("experiments/ablations/cifar100_fixedvae.yaml", ""): ("447cbb16c780", "203e28135ef0"),
    ("experiments/ablations/cifar100_fixedvae.yaml", "standard"): ("c6af4c66ca54", "38b0e992bf59"),
    ("experiments/ablations/cifar100_fixedvae.yaml", "modern"): ("b2bf8f804511", "74ff7a4fe2ce"),
    ("experiments/ablations/cifar100_fixedvae.yaml", "paper"): ("447cbb16c780", "203e28135ef0"),
    ("experiments/ablations/cifar100_fixedvae.yaml", "paper-exact"): (
        "2a77ba5586bb",
        "2ba03febb477",
    ),
    ("experiments/ablations/cifar100_fixedvae.yaml", "release"): ("772077bdc69d", "3cfe594ce264"),
    ("experiments/ablations/cifar100_fixedvae.yaml", "release-exact"): (
        "82db660c53ce",
        "e399f0d7dde3",
    ),
    ("experiments/ablations/cifar100_noadv.yaml", ""): ("dfde67d9940a", "3adb17ca09e7"),
    ("experiments/ablations/cifar100_noadv.yaml", "standard"): ("5f4da740857c", "333f3abfda41"),
    ("experiments/ablations/cifar100_noadv.yaml", "modern"): ("f2244a1bfab4", "0bb68512cbe5"),
    ("experiments/ablations/cifar100_noadv.yaml", "paper"): ("dfde67d9940a", "3adb17ca09e7"),
    ("experiments/ablations/cifar100_noadv.yaml", "paper-exact"): ("5dbf33771617", "518981fbae98"),
    ("experiments/ablations/cifar100_noadv.yaml", "release"): ("5a9a0e45d43a", "2241f9f15fd4"),
    ("experiments/ablations/cifar100_noadv.yaml", "release-exact"): (
        "795dd4690955",
        "ad4097dbf30d",
    ),
    ("experiments/ablations/cifar100_noise10.yaml", ""): ("58d5b276d492", "f853b13abd70"),
    ("experiments/ablations/cifar100_noise10.yaml", "standard"): ("46e4fd9c848f", "22d9ca4140ab"),
    ("experiments/ablations/cifar100_noise10.yaml", "modern"): ("a28a82f6b261", "9cdd0196e1ef"),
    ("experiments/ablations/cifar100_noise10.yaml", "paper"): ("58d5b276d492", "f853b13abd70"),
    ("experiments/ablations/cifar100_noise10.yaml", "paper-exact"): (
        "8719b9ce8053",
        "d747291f3fa7",
    ),
    ("experiments/ablations/cifar100_noise10.yaml", "release"): ("eb5803fed6b4", "400b8caa6f4c"),
    ("experiments/ablations/cifar100_noise10.yaml", "release-exact"): (
        "265f5afcdf64",
        "c5223f919087",
    ),
    ("experiments/ablations/cifar100_noise20.yaml", ""): ("c2bcc4677d3d", "77baeaddc9b6"),
    ("experiments/ablations/cifar100_noise20.yaml", "standard"): ("9e8b30c598e8", "ce1d182c0458"),
    ("experiments/ablations/cifar100_noise20.yaml", "modern"): ("6f9d01eb2b0e", "ea57e1319198"),
    ("experiments/ablations/cifar100_noise20.yaml", "paper"): ("c2bcc4677d3d", "77baeaddc9b6"),
    ("experiments/ablations/cifar100_noise20.yaml", "paper-exact"): (
        "1de764cb1a42",
        "c1074a344fb7",
    ),
    ("experiments/ablations/cifar100_noise20.yaml", "release"): ("273d0d80e06e", "6dc292f034ae"),
    ("experiments/ablations/cifar100_noise20.yaml", "release-exact"): (
        "acfa6d5ffaf0",
        "4395ab94d2d3",
    ),
    ("experiments/ablations/cifar100_noise30.yaml", ""): ("bfec0a35451b", "a803890379e7"),
    ("experiments/ablations/cifar100_noise30.yaml", "standard"): ("d0bdf915bde0", "1a20f0c57b51"),
    ("experiments/ablations/cifar100_noise30.yaml", "modern"): ("17d30948762f", "d209f2f236f8"),
    ("experiments/ablations/cifar100_noise30.yaml", "paper"): ("bfec0a35451b", "a803890379e7"),
    ("experiments/ablations/cifar100_noise30.yaml", "paper-exact"): (
        "f12fc6b3a209",
        "b126c67028f7",
    ),
    ("experiments/ablations/cifar100_noise30.yaml", "release"): ("0d75eda5685c", "5c6dcb4626f5"),
    ("experiments/ablations/cifar100_noise30.yaml", "release-exact"): (
        "a297db438716",
        "9cce5f9cf954",
    ),
    ("experiments/ablations/mnist_biased.yaml", ""): ("e78dd348a705", "7bbc0867dd35"),
    ("experiments/ablations/mnist_biased.yaml", "standard"): ("e78dd348a705", "7bbc0867dd35"),
    ("experiments/ablations/mnist_biased.yaml", "modern"): ("da578f1b2465", "f6d6dd584e13"),
    ("experiments/ablations/mnist_biased.yaml", "paper"): ("db6e9c5be4fb", "34e4db37e886"),
    ("experiments/ablations/mnist_biased.yaml", "paper-exact"): ("37f8cf27ea83", "289d2e0133b3"),
    ("experiments/ablations/mnist_biased.yaml", "release"): ("c1c933cc55a9", "b0ae85c248a2"),
    ("experiments/ablations/mnist_biased.yaml", "release-exact"): ("b23eed4b4cac", "a24ef962afde"),
    ("experiments/ablations/mnist_budget_large.yaml", ""): ("69cd7f7d0ca9", "4afad754590f"),
    ("experiments/ablations/mnist_budget_large.yaml", "standard"): ("69cd7f7d0ca9", "4afad754590f"),
    ("experiments/ablations/mnist_budget_large.yaml", "modern"): ("31ee92e8a86f", "67d6cd000040"),
    ("experiments/ablations/mnist_budget_large.yaml", "paper"): ("1b0b486f187e", "9545e7d31921"),
    ("experiments/ablations/mnist_budget_large.yaml", "paper-exact"): (
        "4302c00ed756",
        "44873999cac0",
    ),
    ("experiments/ablations/mnist_budget_large.yaml", "release"): ("c7be30129b92", "6ca32c12d1ff"),
    ("experiments/ablations/mnist_budget_large.yaml", "release-exact"): (
        "6abe3373fc24",
        "3e34b0d6eb36",
    ),
    ("experiments/ablations/mnist_budget_small.yaml", ""): ("f11a9555437d", "d6913be0c949"),
    ("experiments/ablations/mnist_budget_small.yaml", "standard"): ("f11a9555437d", "d6913be0c949"),
    ("experiments/ablations/mnist_budget_small.yaml", "modern"): ("2d02439b279c", "e811f283e907"),
    ("experiments/ablations/mnist_budget_small.yaml", "paper"): ("5825d6e0f63b", "e20df8d78447"),
    ("experiments/ablations/mnist_budget_small.yaml", "paper-exact"): (
        "6f06fd0e1106",
        "c258c0f11c7b",
    ),
    ("experiments/ablations/mnist_budget_small.yaml", "release"): ("7b95aff9bc7f", "19eb91095146"),
    ("experiments/ablations/mnist_budget_small.yaml", "release-exact"): (
        "28da6affa30e",
        "7dbb84e98dc5",
    ),
    ("experiments/ablations/mnist_fixedvae.yaml", ""): ("b488b2c50829", "89ab9ab7b29a"),
    ("experiments/ablations/mnist_fixedvae.yaml", "standard"): ("b488b2c50829", "89ab9ab7b29a"),
    ("experiments/ablations/mnist_fixedvae.yaml", "modern"): ("efd810c33fef", "687cad07f032"),
    ("experiments/ablations/mnist_fixedvae.yaml", "paper"): ("3114674f6ee7", "27ac7e1d84b6"),
    ("experiments/ablations/mnist_fixedvae.yaml", "paper-exact"): ("218bd5a6f16b", "cf4d1cd51ef4"),
    ("experiments/ablations/mnist_fixedvae.yaml", "release"): ("1a9ed65acf8b", "e2491754dd50"),
    ("experiments/ablations/mnist_fixedvae.yaml", "release-exact"): (
        "e0ee66c1f0f2",
        "2121b9b58fd4",
    ),
    ("experiments/ablations/mnist_klmean.yaml", ""): ("411c313a49bd", "f564f9f0f1c4"),
    ("experiments/ablations/mnist_klmean.yaml", "standard"): ("411c313a49bd", "f564f9f0f1c4"),
    ("experiments/ablations/mnist_klmean.yaml", "modern"): ("bffeb04f39b7", "41903a6d8cce"),
    ("experiments/ablations/mnist_klmean.yaml", "paper"): ("b2c9918c1b00", "7020824102c5"),
    ("experiments/ablations/mnist_klmean.yaml", "paper-exact"): ("15aa43d11d59", "f3585504e765"),
    ("experiments/ablations/mnist_klmean.yaml", "release"): ("870b8401e94d", "5c199ecd823d"),
    ("experiments/ablations/mnist_klmean.yaml", "release-exact"): ("077d9618693c", "88f2e52ea6cd"),
    ("experiments/ablations/mnist_noadv.yaml", ""): ("8bbfea08b117", "da14008c7a0f"),
    ("experiments/ablations/mnist_noadv.yaml", "standard"): ("8bbfea08b117", "da14008c7a0f"),
    ("experiments/ablations/mnist_noadv.yaml", "modern"): ("09b100a28935", "e14848609310"),
    ("experiments/ablations/mnist_noadv.yaml", "paper"): ("aca0f1bb3f0f", "467107afda4d"),
    ("experiments/ablations/mnist_noadv.yaml", "paper-exact"): ("7ce38a4bd65c", "38a39dda3333"),
    ("experiments/ablations/mnist_noadv.yaml", "release"): ("e116b8a5a325", "e2a77c0f5611"),
    ("experiments/ablations/mnist_noadv.yaml", "release-exact"): ("9590f4e4fed3", "5643d04af413"),
    ("experiments/ablations/mnist_noise10.yaml", ""): ("1ba019d5c87a", "1f5741ead57a"),
    ("experiments/ablations/mnist_noise10.yaml", "standard"): ("1ba019d5c87a", "1f5741ead57a"),
    ("experiments/ablations/mnist_noise10.yaml", "modern"): ("b180b19bd790", "7e79227ea73f"),
    ("experiments/ablations/mnist_noise10.yaml", "paper"): ("47eeb8568a71", "ad2b1bff5441"),
    ("experiments/ablations/mnist_noise10.yaml", "paper-exact"): ("87f511b38070", "aa2f03d411bc"),
    ("experiments/ablations/mnist_noise10.yaml", "release"): ("b256b3d8ea3d", "7d50241f5729"),
    ("experiments/ablations/mnist_noise10.yaml", "release-exact"): ("4eaf25aed9ac", "2f28bd6d3e64"),
    ("experiments/ablations/mnist_noise20.yaml", ""): ("8df1b6339e88", "752da37e309b"),
    ("experiments/ablations/mnist_noise20.yaml", "standard"): ("8df1b6339e88", "752da37e309b"),
    ("experiments/ablations/mnist_noise20.yaml", "modern"): ("b5a05f02b745", "4274b29adc58"),
    ("experiments/ablations/mnist_noise20.yaml", "paper"): ("ccfe59748e57", "659365caaf29"),
    ("experiments/ablations/mnist_noise20.yaml", "paper-exact"): ("72a610136695", "0f7191659546"),
    ("experiments/ablations/mnist_noise20.yaml", "release"): ("d3c15e04c145", "8d09af1ffc55"),
    ("experiments/ablations/mnist_noise20.yaml", "release-exact"): ("d12836cea6a1", "1ce3b0129973"),
    ("experiments/ablations/mnist_noise30.yaml", ""): ("5df8dfb0ff36", "ce8089929d35"),
    ("experiments/ablations/mnist_noise30.yaml", "standard"): ("5df8dfb0ff36", "ce8089929d35"),
    ("experiments/ablations/mnist_noise30.yaml", "modern"): ("c4b1a40693dd", "e73827a3e5bb"),
    ("experiments/ablations/mnist_noise30.yaml", "paper"): ("0d050e7c141a", "7b68f083a921"),
    ("experiments/ablations/mnist_noise30.yaml", "paper-exact"): ("ae6f24395cc1", "4dfc8f1b2baa"),
    ("experiments/ablations/mnist_noise30.yaml", "release"): ("a13e7f583ed5", "d5df79cf50db"),
    ("experiments/ablations/mnist_noise30.yaml", "release-exact"): ("55000ae37308", "a2eaeb2d2494"),
    ("experiments/bdd100k.yaml", ""): ("f17becd816e5", "ad6ab7aefae2"),
    ("experiments/bdd100k.yaml", "standard"): ("f17becd816e5", "ad6ab7aefae2"),
    ("experiments/bdd100k.yaml", "modern"): ("65f90be6b758", "bae60a78af58"),
    ("experiments/bdd100k.yaml", "paper"): ("074c5c725cdf", "491b67b90c73"),
    ("experiments/bdd100k.yaml", "paper-exact"): ("3137a18d5b43", "c0552dcd50e5"),
    ("experiments/bdd100k.yaml", "release"): ("487418582bc2", "bc85721ed8c4"),
    ("experiments/bdd100k.yaml", "release-exact"): ("850e9964d4bf", "76f7104b6cbb"),
    ("experiments/caltech256.yaml", ""): ("bf0484438ae8", "5b40ac929bac"),
    ("experiments/caltech256.yaml", "standard"): ("93430e0ec38a", "47ec89ab29e5"),
    ("experiments/caltech256.yaml", "modern"): ("10c7d0a47c37", "7d0f452d1d69"),
    ("experiments/caltech256.yaml", "paper"): ("bf0484438ae8", "5b40ac929bac"),
    ("experiments/caltech256.yaml", "paper-exact"): ("09da5c09e135", "9280d9dbfab8"),
    ("experiments/caltech256.yaml", "release"): ("6edacfd2de3b", "65ec338beff9"),
    ("experiments/caltech256.yaml", "release-exact"): ("a5a361637045", "6678f7d10e6f"),
    ("experiments/cifar10.yaml", ""): ("2d100e57eb58", "2cf254139429"),
    ("experiments/cifar10.yaml", "standard"): ("069dc52ae5cd", "0d572b0ff8c0"),
    ("experiments/cifar10.yaml", "modern"): ("3973ab5ce48a", "fc32fa088dec"),
    ("experiments/cifar10.yaml", "paper"): ("2d100e57eb58", "2cf254139429"),
    ("experiments/cifar10.yaml", "paper-exact"): ("5d060ac155ff", "29cca78a48e9"),
    ("experiments/cifar10.yaml", "release"): ("c0218a123edd", "a0ca01c6e6c5"),
    ("experiments/cifar10.yaml", "release-exact"): ("e9cc680e3956", "7256a5b4b537"),
    ("experiments/cifar100.yaml", ""): ("e360df576234", "8671d7469b74"),
    ("experiments/cifar100.yaml", "standard"): ("ac956e90e408", "7bae31b83b32"),
    ("experiments/cifar100.yaml", "modern"): ("4121a5267ebf", "fd238b25a58c"),
    ("experiments/cifar100.yaml", "paper"): ("e360df576234", "8671d7469b74"),
    ("experiments/cifar100.yaml", "paper-exact"): ("fa253209bcf9", "023572e2024e"),
    ("experiments/cifar100.yaml", "release"): ("0e438c3df246", "11d464640a3c"),
    ("experiments/cifar100.yaml", "release-exact"): ("69da41f67a48", "922fcbfb5633"),
    ("experiments/cityscapes.yaml", ""): ("ea9d2629f8e5", "b573c4a72d4f"),
    ("experiments/cityscapes.yaml", "standard"): ("ea9d2629f8e5", "b573c4a72d4f"),
    ("experiments/cityscapes.yaml", "modern"): ("46094ae06f0b", "26dcc4c44c8b"),
    ("experiments/cityscapes.yaml", "paper"): ("39e741ba4715", "7429f809a1d4"),
    ("experiments/cityscapes.yaml", "paper-exact"): ("31fea2d06e1d", "12e0c2df49cb"),
    ("experiments/cityscapes.yaml", "release"): ("011dd848dd37", "8f7d9108ce8e"),
    ("experiments/cityscapes.yaml", "release-exact"): ("53fc4972efcd", "1d3cbb1fb6d9"),
    ("experiments/imagefolder.yaml", ""): ("6b683a4616bc", "0c21b4a2df9a"),
    ("experiments/imagefolder.yaml", "standard"): ("6b683a4616bc", "0c21b4a2df9a"),
    ("experiments/imagefolder.yaml", "modern"): ("8fbb962f2856", "91d9c8fb96cc"),
    ("experiments/imagefolder.yaml", "paper"): ("3a4d62baa22f", "e55a74c67e35"),
    ("experiments/imagefolder.yaml", "paper-exact"): ("bb3a38d69f3b", "2aa514ffc0a9"),
    ("experiments/imagefolder.yaml", "release"): ("99753595de93", "905d06c7f309"),
    ("experiments/imagefolder.yaml", "release-exact"): ("c1078ae27c8f", "868516d93bf3"),
    ("experiments/imagenet.yaml", ""): ("fbe299c5cccb", "830f62dd03aa"),
    ("experiments/imagenet.yaml", "standard"): ("7a68ea0d7e85", "fb0896a95d90"),
    ("experiments/imagenet.yaml", "modern"): ("9c5c580debb2", "e05cdac6e099"),
    ("experiments/imagenet.yaml", "paper"): ("fbe299c5cccb", "830f62dd03aa"),
    ("experiments/imagenet.yaml", "paper-exact"): ("16bb59c0adc0", "1f55abed8a4f"),
    ("experiments/imagenet.yaml", "release"): ("a5d64ca60bfc", "26718f72660b"),
    ("experiments/imagenet.yaml", "release-exact"): ("e81e99667224", "7d0e8dc3bf0b"),
    ("experiments/mnist.yaml", ""): ("3875ebd8662d", "0ab5ec587cfb"),
    ("experiments/mnist.yaml", "standard"): ("3875ebd8662d", "0ab5ec587cfb"),
    ("experiments/mnist.yaml", "modern"): ("26140f75b49c", "773b6e135d96"),
    ("experiments/mnist.yaml", "paper"): ("6d44b9409d5a", "30e6bfd71305"),
    ("experiments/mnist.yaml", "paper-exact"): ("84df2d1dfc92", "55c2fd5d2278"),
    ("experiments/mnist.yaml", "release"): ("091059647a7a", "b2cf2f1eb46e"),
    ("experiments/mnist.yaml", "release-exact"): ("79f7789a7ed3", "3f8952c9fe33"),
}

# `--set` overrides of experiments/cifar10.yaml -> (hash, spec.yaml sha1)
OVERRIDES = {
    ("vaal.epochs=1",): ("78653f24c834", "dce66de1b04c"),
    ("vaal.init=suite", "vaal.input_range=standardized"): ("2d100e57eb58", "2cf254139429"),
    ("vaal.lr_step_fraction=1",): ("22cfe774bbd4", "bc4b189556de"),
    ("vaal.width=128", "vaal.lr_gamma=0.9"): ("2d100e57eb58", "2cf254139429"),
    ("vaal.lr_step_fraction=0.04", "vaal.lr_gamma=1"): ("e03402709a5c", "1bf83a17de9f"),
    ("vaal.beta=2", "vaal.game=fixed_vae"): ("4fadbc1870ec", "6aabc5c03589"),
    ("vaal.lr_step_fraction=null",): ("2d100e57eb58", "2cf254139429"),
}


def _pin(spec) -> tuple[str, str]:
    return spec.hash(), hashlib.sha1(spec.to_yaml().encode()).hexdigest()[:12]


def test_the_table_covers_every_shipped_spec_and_preset():
    files = {str(p.relative_to(REPO)) for p in (REPO / "experiments").rglob("*.yaml")}
    assert {f for f, _ in PINNED} == files
    assert {p for _, p in PINNED} == {"", "standard", *PRESETS}


@pytest.mark.parametrize("path, protocol", sorted(PINNED))
def test_shipped_spec_keeps_its_hash_and_bytes(path, protocol):
    assert _pin(load_spec(REPO / path, protocol=protocol or None)) == PINNED[(path, protocol)]


@pytest.mark.parametrize("overrides", sorted(OVERRIDES))
def test_vaal_overrides_keep_their_hash_and_bytes(overrides):
    spec = load_spec(REPO / "experiments/cifar10.yaml", list(overrides))
    assert _pin(spec) == OVERRIDES[overrides]
