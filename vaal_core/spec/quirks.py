"""Named quirks of the original code (github.com/sinhasam/vaal), each one switch in `protocol.quirks`.

The `paper`/`release` presets correct these; the `paper-exact`/`release-exact` presets switch on the
ones each commit had, so a run computes what that commit computed. Each entry names where the
original does it (commit, file, line), so the ledger (docs/protocols.md) and the code cite the same place.
Settings that are not bugs but choices (the VAE's input range, the initialisation, the learning-rate
decay) are spec keys of their own (`vaal.input_range`, `vaal.init`, `vaal.lr_step_fraction`).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import SpecError


@dataclass(frozen=True)
class Quirk:
    name: str
    source: str  # commit, file and line in github.com/sinhasam/vaal
    what: str  # what a run with the quirk switched on does


QUIRKS: dict[str, Quirk] = {
    q.name: q
    for q in (
        Quirk(
            "eval_mode_training",
            "67263f3 solver.py:52 (train() once, before the loop), :155-156 (validate at iteration"
            " 0), :182 (validate() calls eval(); nothing calls train() again)",
            "the task model trains in eval mode (BatchNorm on running statistics, dropout off) "
            "after its first validation",
        ),
        Quirk(
            "train_mode_scoring",
            "395da2e solver.py:46 / 67263f3 solver.py:50 (vae.train()); sampler.py:18-20 (no "
            "eval() before scoring)",
            "the VAE scores the pool in train mode: BatchNorm on the statistics of shuffled "
            "batches of vaal.batch_size",
        ),
        Quirk(
            "flip_when_scoring",
            "395da2e main.py:86 / 67263f3 main.py:99 (the unlabeled loader reads train_dataset), "
            "395da2e custom_datasets.py:17-21 / 67263f3 :17-23 (its transform flips at random)",
            "each pool image is flipped horizontally with probability 1/2 before it is scored",
        ),
        Quirk(
            "drop_last",
            "395da2e main.py:65-66, 103-104 / 67263f3 main.py:76-77, 117-118 (labeled loader "
            "drop_last=True)",
            "every pass over the labeled set drops its last partial batch (task model and VAAL's "
            "labeled stream)",
        ),
        Quirk(
            "no_vaal_holdout",
            "395da2e/67263f3 solver.py train(): VAAL reads the whole labeled and unlabeled "
            "loaders (the suite's diagnostics hold images out; the originals have no diagnostics)",
            "the VAE and discriminator train on every labeled and unlabeled image; the "
            "diagnostics are in-sample (query_stats.diagnostics: in_sample)",
        ),
    )
}

# quirks the task-model trainer reads (the distributed trainer does not implement them)
TRAINER_QUIRKS = frozenset({"eval_mode_training", "drop_last"})


@dataclass(frozen=True)
class Quirks:
    """The quirks a run switches on, as one typed value built once from `protocol.quirks` and
    handed to every effect site (the trainer, VAAL's training and scoring). One field per entry
    of QUIRKS: adding a quirk is its entry, its field, its effect site and its test."""

    eval_mode_training: bool = False
    train_mode_scoring: bool = False
    flip_when_scoring: bool = False
    drop_last: bool = False
    no_vaal_holdout: bool = False

    @classmethod
    def of(cls, names: tuple[str, ...] | list[str] = ()) -> Quirks:
        check_quirks(tuple(names))
        return cls(**{name: True for name in names})

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(name for name in QUIRKS if getattr(self, name))

    @property
    def trainer_names(self) -> list[str]:
        """The ones the task-model trainer reads (the distributed trainer implements none)."""
        return [n for n in self.names if n in TRAINER_QUIRKS]


NO_QUIRKS = Quirks()


def batch_starts(n: int, batch: int, drop_last: bool) -> range:
    """Where each batch of one pass over `n` shuffled items starts. `drop_last` (the quirk, as a
    DataLoader's) leaves out the pass's partial last batch, unless the set is smaller than one
    batch: then its one partial batch is the pass. The task trainer and VAAL's streams both
    read their passes from here."""
    usable = n - n % batch if drop_last else 0
    return range(0, usable or n, batch)


def check_quirks(names: tuple[str, ...]) -> None:
    """Every name is a registered quirk, listed once."""
    for name in names:
        if name not in QUIRKS:
            raise SpecError(
                f"spec key 'protocol.quirks' holds unknown quirk {name!r}; valid names: "
                f"{', '.join(sorted(QUIRKS))}"
            )
    if len(set(names)) != len(names):
        raise SpecError(f"spec key 'protocol.quirks' lists a quirk twice: {list(names)}")
