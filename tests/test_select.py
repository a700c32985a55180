"""`python -m vaal_core select`: rounds of human-in-the-loop labeling on a folder of images.

Each test labels by hand as a user would: select, append the picks with their true labels to
labels.csv, select again."""

from __future__ import annotations

import csv
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.imagefolder import write_folders
from vaal_core.__main__ import main

REPO = Path(__file__).resolve().parent.parent
SPEC = "experiments/imagefolder.yaml"
TINY = [
    "experiment=tiny_select",
    "dataset.image_size=32",
    "task.model=small_cnn",
    "task.iterations=4",
    "task.batch_size=8",
    "task.eval_batch_size=64",
    "vaal.image_size=32",
    "vaal.width=8",
    "vaal.epochs=0.2",
    "vaal.batch_size=8",
    "runtime.num_threads=1",
]
SETS = [a for o in TINY for a in ("--set", o)]
BUDGET = 4


@pytest.fixture
def folder(tmp_path):
    """24 images under images/ (3 classes), two of each class labeled in labels.csv."""
    photos = write_folders(tmp_path / "images", train=8, test=0)
    truth = {p.path: p.label for p in photos}
    first = [p for p in photos if p.path.split("_")[-1] in ("00.jpg", "01.png")]
    _write_labels(tmp_path / "labels.csv", {p.path: p.label for p in first})
    return tmp_path, truth


def _write_labels(path: Path, rows: dict[str, str]) -> None:
    with open(path, "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["path", "label"])
        out.writerows(rows.items())


def _labels(path: Path) -> dict[str, str]:
    with open(path, newline="") as f:
        return {r["path"]: r["label"] for r in csv.DictReader(f)}


def _args(root: Path, strategy: str, out: str = "out", budget: int = BUDGET) -> list[str]:
    return [
        "select",
        SPEC,
        "--images",
        str(root / "images"),
        "--labels",
        str(root / "labels.csv"),
        "--budget",
        str(budget),
        "--strategy",
        strategy,
        "--out",
        str(root / out),
        "--no-progress",
        *SETS,
    ]


def _select(root: Path, strategy: str, out: str = "out", capsys=None) -> list[dict]:
    assert main(_args(root, strategy, out)) == 0
    printed = capsys.readouterr().out if capsys else ""
    where = Path(next(ln for ln in printed.splitlines() if ln.startswith("selection: "))[11:])
    with open(where, newline="") as f:
        return list(csv.DictReader(f))


def _label(root: Path, picked: list[dict], truth: dict[str, str]) -> None:
    """The user's step: append the picks with their true labels."""
    with open(root / "labels.csv", "a", newline="") as f:
        csv.writer(f).writerows([r["path"], truth[r["path"]]] for r in picked)


def _digest(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.mark.parametrize("strategy", ["random", "vaal"])
def test_three_rounds_are_disjoint_and_repeat_exactly(folder, strategy, capsys):
    root, truth = folder
    before = _digest(root / "images")
    labeled = set(_labels(root / "labels.csv"))
    rounds = []
    for _ in range(3):
        picked = _select(root, strategy, capsys=capsys)
        paths = [r["path"] for r in picked]
        assert len(paths) == len(set(paths)) == BUDGET
        assert not set(paths) & labeled, "a labeled image was selected again"
        assert set(paths) <= set(truth)
        rounds.append(paths)
        _label(root, picked, truth)
        labeled |= set(paths)
    assert len({p for r in rounds for p in r}) == 3 * BUDGET  # disjoint across rounds
    folders = sorted(p.name for p in (root / "out").glob("round-*"))
    assert [f[:8] for f in folders] == ["round-01", "round-02", "round-03"]

    # a fourth round, and the same inputs in a fresh folder: computed afresh, the same list
    fourth = _select(root, strategy, capsys=capsys)
    again = _select(root, strategy, out="elsewhere", capsys=capsys)
    assert again == fourth, "not deterministic for a seed"
    assert not {r["path"] for r in fourth} & labeled

    if strategy == "vaal":  # P(labeled), lowest first: the discriminator's least likely labeled
        values = [float(r["p_labeled"]) for r in fourth]
        assert values == sorted(values) and all(0 < v < 1 for v in values)
    else:  # random has no score: path, rank and nothing else, in path order
        assert set(fourth[0]) == {"path", "rank"}
        assert [r["path"] for r in fourth] == sorted(r["path"] for r in fourth)
    assert [int(r["rank"]) for r in fourth] == list(range(1, BUDGET + 1))
    assert _digest(root / "images") == before, "the user's images changed"


def test_a_rerun_with_the_same_labels_prints_the_stored_list(folder, capsys):
    root, _ = folder
    first = _select(root, "random", capsys=capsys)
    assert main(_args(root, "random")) == 0
    printed = capsys.readouterr().out
    assert "already selected (same inputs)" in printed
    assert "no test set" in printed and "next: label these images" in printed
    where = Path(next(ln for ln in printed.splitlines() if ln.startswith("selection: "))[11:])
    with open(where, newline="") as f:
        assert list(csv.DictReader(f)) == first


def _cli(root: Path, strategy: str, failpoint: str | None, out: str = "out"):
    env = {k: v for k, v in os.environ.items() if k != "VAAL_FAILPOINT"}
    if failpoint:
        env["VAAL_FAILPOINT"] = failpoint
    args = [sys.executable, "-m", "vaal_core", *_args(root, strategy, out)]
    return subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize("failpoint", ["strategy_training:1", "after_query:1"])
def test_a_round_killed_midway_reruns_to_the_same_list(folder, failpoint, capsys):
    root, truth = folder
    _label(root, _select(root, "vaal", capsys=capsys), truth)

    killed = _cli(root, "vaal", failpoint)  # the second round is cycle 1
    assert killed.returncode == -9, killed.stderr
    second = next((root / "out").glob("round-02-*"))
    assert not (second / "selection.csv").exists()
    assert (second / "task_model.pt").exists()  # both failpoints come after training

    resumed = _select(root, "vaal", capsys=capsys)
    assert resumed == _select(root, "vaal", out="uninterrupted", capsys=capsys)
    assert (second / "selection.csv").is_file()


def _classification_strategies() -> list[str]:
    from vaal_core.strategies import STRATEGIES, check_strategy_name, supports

    check_strategy_name("random")  # loads the plug-ins
    return [n for n, c in STRATEGIES.items() if supports(c, "classification") and not c.whole_pool]


@pytest.mark.parametrize("strategy", _classification_strategies())
def test_every_strategy_that_selects_from_a_labeled_set_runs(folder, strategy, capsys):
    root, truth = folder
    picked = _select(root, strategy, capsys=capsys)
    paths = {r["path"] for r in picked}
    assert len(paths) == BUDGET and paths <= set(truth) - set(_labels(root / "labels.csv"))
    from vaal_core.strategies import STRATEGIES

    kind = STRATEGIES[strategy].score
    if kind is None:  # no score: the list says so and is in path order
        assert set(picked[0]) == {"path", "rank"}
        return
    # the score under its own name, the picks in the order the strategy declares best first
    assert set(picked[0]) == {"path", "rank", kind.column}
    values = [float(r[kind.column]) for r in picked]
    assert values == sorted(values, reverse=kind.higher_first), f"{strategy}: not ranked by score"
    assert [int(r["rank"]) for r in picked] == list(range(1, BUDGET + 1))


@pytest.mark.parametrize(
    "case, expected",
    [
        ("missing_file", "names 1 file that does not exist under"),
        ("budget", "larger than the 18 unlabeled images"),
        ("full", "strategy 'full' needs every image labeled"),
        ("no_labels_file", "no such file"),
        ("unknown_strategy", "unknown strategy"),
    ],
)
def test_bad_inputs_are_one_error_line_and_exit_2(folder, case, expected, capsys):
    root, _ = folder
    strategy, budget = "random", BUDGET
    if case == "missing_file":
        with open(root / "labels.csv", "a") as f:
            f.write("train/disk/not_there.jpg,disk\n")
    elif case == "budget":
        budget = 19
    elif case == "full":
        strategy = "full"
    elif case == "no_labels_file":
        (root / "labels.csv").unlink()
    else:
        strategy = "vaaal"
    assert main(_args(root, strategy, budget=budget)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and expected in err[0], err
    assert not list((root / "out").glob("round-*")), "a refused round left a folder"


def test_class_indices_follow_the_sorted_names_and_skip_the_unlabeled(folder):
    from vaal_core.select.images import round_data
    from vaal_core.select.inputs import Images, Request, read_labels
    from vaal_core.spec import load_spec

    root, truth = folder
    labels = read_labels(root / "labels.csv", root / "images")
    images = Images(root / "images", tuple(sorted(truth)))
    req = Request(load_spec(SPEC, TINY), images, labels, BUDGET, "random", 0, root / "out", False)
    data = round_data(req, list(images.paths))
    names = ("disk", "sky", "stripes")
    expected = [names.index(labels.rows[p]) if p in labels.rows else -1 for p in images.paths]
    assert data.train_y.tolist() == expected
    assert len(data.test_y) == 0  # no test set
    assert not (root / "images" / "cache").exists()


def test_a_list_file_names_the_candidates(folder, capsys):
    """--images as a text list: only the listed images are candidates (paths relative to it)."""
    root, truth = folder
    labeled = _labels(root / "labels.csv")
    listed = sorted(set(truth) - set(labeled))[:8]
    (root / "images" / "todo.txt").write_text("\n".join(["# to label", *listed]) + "\n")
    args = _args(root, "random")
    args[args.index("--images") + 1] = str(root / "images" / "todo.txt")
    assert main(args) == 0
    out = capsys.readouterr().out
    where = Path(next(ln for ln in out.splitlines() if ln.startswith("selection: "))[11:])
    with open(where, newline="") as f:
        picked = {r["path"] for r in csv.DictReader(f)}
    assert len(picked) == BUDGET and picked <= set(listed)
    assert "of 8 unlabeled images" in out


def _rounds(root: Path, out: str = "out") -> list[str]:
    return sorted(p.name for p in (root / out).glob("round-*"))


def _change(root: Path, what: str, args: list[str]) -> list[str]:
    """`args` with one input of the round changed as a user would change it."""
    args = list(args)
    if what == "seed":
        args += ["--seed", "1"]
    elif what == "budget":
        args[args.index("--budget") + 1] = str(BUDGET + 1)
    elif what == "strategy":
        args[args.index("--strategy") + 1] = "entropy"
    elif what == "spec override":
        args += ["--set", "task.iterations=5"]
    elif what == "protocol":
        args += ["--protocol", "modern"]
    elif what == "image list":  # one unlabeled image fewer, as a list file
        labeled = _labels(root / "labels.csv")
        images = root / "images"
        every = sorted(p.relative_to(images).as_posix() for p in images.rglob("*.*g"))
        dropped = next(p for p in every if p not in labeled)
        (root / "images" / "some.txt").write_text("\n".join(set(every) - {dropped}) + "\n")
        args[args.index("--images") + 1] = str(root / "images" / "some.txt")
    elif what == "labels":  # one label corrected
        rows = _labels(root / "labels.csv")
        first = sorted(rows)[0]
        rows[first] = next(c for c in ("disk", "sky", "stripes") if c != rows[first])
        _write_labels(root / "labels.csv", rows)
    elif what == "replaced image":  # the same name, other pixels (and so another size)
        labeled = _labels(root / "labels.csv")
        pngs = sorted((root / "images").rglob("*.png"))
        _replace(next(p for p in pngs if p.relative_to(root / "images").as_posix() not in labeled))
    return args


def _replace(path: Path) -> None:
    from PIL import Image

    Image.new("RGB", (40, 40), (200, 10, 10)).save(path, format="PNG")


@pytest.mark.parametrize(
    "what",
    [
        "seed",
        "budget",
        "strategy",
        "spec override",
        "protocol",
        "image list",
        "labels",
        "replaced image",
    ],
)
def test_each_input_that_changes_the_list_starts_a_new_round(folder, what, capsys):
    root, _ = folder
    base = _args(root, "random")
    assert main(base) == 0
    assert main(_change(root, what, base)) == 0
    printed = capsys.readouterr().out
    assert printed.count("\nselected: ") == 2, f"{what} reused the first round"
    assert [r[:8] for r in _rounds(root)] == ["round-01", "round-02"]


def test_the_same_labels_reordered_or_with_other_line_endings_reuse_the_round(folder, capsys):
    root, _ = folder
    assert main(_args(root, "random")) == 0
    rows = _labels(root / "labels.csv")
    text = "".join(f"{p},{y}\r\n" for p, y in sorted(rows.items(), reverse=True))
    (root / "labels.csv").write_text(text)  # no header, reversed, CRLF: the same labels
    assert main(_args(root, "random")) == 0
    printed = capsys.readouterr().out
    assert "already selected (same inputs)" in printed
    assert len(_rounds(root)) == 1


def test_labels_of_one_class_are_refused_before_anything_is_written(folder, capsys):
    root, _ = folder
    rows = _labels(root / "labels.csv")
    _write_labels(root / "labels.csv", {p: y for p, y in rows.items() if y == "sky"})
    proc = _cli(root, "random", None)
    assert proc.returncode == 2, proc.stderr
    err = proc.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    assert "one class only ('sky')" in err[0] and "at least two classes" in err[0]
    assert not (root / "out").exists(), "a refused round wrote something"


def test_a_labeled_image_replaced_outside_the_list_file_starts_a_new_round(folder, capsys):
    """--images a list of the unlabeled images only: the labeled ones still train the model, so
    replacing one of them changes the list."""
    root, truth = folder
    labeled = _labels(root / "labels.csv")
    (root / "todo.txt").write_text(
        "\n".join(f"images/{p}" for p in sorted(set(truth) - set(labeled))) + "\n"
    )
    args = _args(root, "random")
    args[args.index("--images") + 1] = str(root / "todo.txt")
    args[args.index("--labels") + 1] = str(root / "labels_root.csv")
    _write_labels(root / "labels_root.csv", {f"images/{p}": y for p, y in labeled.items()})
    assert main(args) == 0
    _replace(root / "images" / next(p for p in sorted(labeled) if p.endswith(".png")))
    assert main(args) == 0
    assert capsys.readouterr().out.count("\nselected: ") == 2
    assert len(_rounds(root)) == 2
