"""Load the cycle logs written by vaal_core into one tidy frame.

Everything downstream (tables, tests, figures) starts from this frame, so problems in the logs are
reported here, naming the file and line, instead of surfacing later as odd numbers.

Columns beyond the record's own fields:
- `qs_<key>`: every entry of the record's `query_stats` dict (what the strategy reported about its
  query: for VAAL `qs_disc_auc`, `qs_disc_auc_band`, `qs_active_units`, ...), NaN/None where a
  record lacks it. The prefix keeps them apart from the record's own fields.
- `ablation`: the ablation kind parsed from an experiment named `ablation_<kind>_<dataset>`
  (e.g. `noise10`, `budget_small`, `noadv`); None for every other experiment. Training protocols
  (`standard`, `paper`, `release`, `modern`) are not ablations.
- `hardware`: the GPU name or CPU of the run, from its env.json (the record's `device` otherwise).
- `run_dir`, `complete`, `expected_cycles`: where the run lives and whether all its cycles are in.
- training health (`HEALTH_FIELDS`: `train_loss`, `train_fit`, `train_fit_n`, `fit_ok`,
  `nonfinite_losses`, `val_value`): NaN/<NA> where a record predates them. `fit_ok` is a nullable
  boolean: <NA> means unknown, never unhealthy.
"""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from vaal_core.errors import ExpectedError
from vaal_core.words import plural

__all__ = ["RunLogError", "load_runs", "ablation_kind", "COLUMNS", "HEALTH_FIELDS", "QS_PREFIX"]

HOW_TO_RUN = (
    "produce runs with `make demo` or "
    "`python -m vaal_core run experiments/mnist.yaml --strategy random --seed 0 --out <root>`"
)

# Fields every record must carry, with the dtype they get in the frame.
_REQUIRED: dict[str, str] = {
    "experiment": "string",
    "dataset": "string",
    "strategy": "string",
    "protocol": "string",
    "seed": "int64",
    "cycle": "int64",
    "n_labeled": "int64",
    "fraction": "float64",
    "metric": "string",
    "value": "float64",
    "train_s": "float64",
    "query_s": "float64",
    "peak_mem_mb": "float64",
    "spec_hash": "string",
}
_OPTIONAL = [
    "run_id",
    "git_rev",
    "n_selected",
    "precision",
    "device",
    "selected_classes",
    "label_noise_flipped",
    "labeled_sha1",
]
# Training health of the task model, per cycle; older records lack them: unknown.
HEALTH_FIELDS: dict[str, str] = {
    "train_loss": "float64",
    "train_fit": "float64",
    "train_fit_n": "Int64",
    "fit_ok": "boolean",
    "nonfinite_losses": "Int64",
    "val_value": "float64",
}
COLUMNS = (
    list(_REQUIRED)
    + _OPTIONAL
    + list(HEALTH_FIELDS)
    + ["ablation", "hardware", "run_dir", "complete"]
)
COLUMNS += ["expected_cycles"]
QS_PREFIX = "qs_"
ABLATION_PREFIX = "ablation_"

# Strategies whose spec legitimately differs from the experiment's (e.g. a full-data top-line).
_HASH_EXEMPT = {"full"}


class RunLogError(ExpectedError, RuntimeError):
    """Run logs that cannot be analysed as they are; the message says where and what to do."""


def _parse_cycles(path: Path) -> tuple[list[dict[str, Any]], bool]:
    """Records of one cycles.jsonl and whether a cut-off last line was dropped.

    A last line without its newline is a write interrupted by a kill: it is dropped (with a warning).
    Any complete line that does not parse is corruption and an error.
    """
    raw = path.read_bytes()
    lines = raw.split(b"\n")
    tail = lines.pop()  # b"" when the file ends with a newline
    records: list[dict[str, Any]] = []
    truncated = False
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise RunLogError(
                f"{path}:{n}: corrupt record ({e}); fix or remove that line, or rerun the run"
            ) from e
    if tail.strip():
        try:
            records.append(json.loads(tail))
        except (json.JSONDecodeError, UnicodeDecodeError):
            truncated = True
            warnings.warn(
                f"{path}:{len(lines) + 1}: last line is cut off (a killed write); "
                "dropped it and flagged the run partial",
                stacklevel=3,
            )
    for n, rec in enumerate(records, 1):
        if not isinstance(rec, dict):
            raise RunLogError(f"{path}:{n}: record is not a JSON object")
        missing = [k for k in _REQUIRED if k not in rec]
        if missing:
            raise RunLogError(
                f"{path}:{n}: record lacks {plural('field', len(missing))} {', '.join(missing)}"
            )
    return records, truncated


def _expected_cycles(run_dir: Path) -> int | None:
    """active.cycles from the run's spec.yaml, or None when the spec is missing or unreadable."""
    spec_path = run_dir / "spec.yaml"
    try:
        spec = yaml.safe_load(spec_path.read_text())
        return int(spec["active"]["cycles"])
    except FileNotFoundError:
        warnings.warn(f"{spec_path} missing: cannot tell whether the run is complete", stacklevel=3)
    except (yaml.YAMLError, KeyError, TypeError, ValueError) as e:
        warnings.warn(f"{spec_path}: no usable active.cycles ({e})", stacklevel=3)
    return None


def ablation_kind(experiment: str, dataset: str | None = None) -> str | None:
    """`noise10` from `ablation_noise10_mnist` (the dataset suffix dropped); None if no ablation.

    Without a matching dataset suffix the whole rest of the name is the kind.
    """
    name = str(experiment).split("@", 1)[0]  # `<experiment>@<protocol>`: the protocol is no kind
    if not name.startswith(ABLATION_PREFIX):
        return None
    kind = name[len(ABLATION_PREFIX) :]
    if dataset:
        suffix = "_" + re.sub(r"[^a-z0-9]", "", str(dataset).lower())
        if kind.lower().endswith(suffix) and len(kind) > len(suffix):
            kind = kind[: -len(suffix)]
    return kind or None


def _hardware(run_dir: Path, device: object) -> str:
    """GPU name, else the CPU (`cpu_model` if recorded, else `processor`) with its thread count,
    from env.json; the record's device otherwise."""
    try:
        env = json.loads((run_dir / "env.json").read_text())
    except (OSError, json.JSONDecodeError):
        return str(device) if device is not None else "unknown"
    if env.get("gpu"):
        return str(env["gpu"])
    cpu = env.get("cpu_model") or env.get("processor") or env.get("device") or device or "unknown"
    threads = env.get("num_threads")
    if not threads:
        return str(cpu)
    return f"{cpu} ({threads} thread{'' if int(threads) == 1 else 's'})"


def _flatten_query_stats(frame: pd.DataFrame) -> pd.DataFrame:
    """One `qs_<key>` column per key of the records' `query_stats` dicts."""
    if "query_stats" not in frame:
        return frame
    stats = [q if isinstance(q, dict) else {} for q in frame.pop("query_stats")]
    flat = pd.DataFrame.from_records(stats, index=frame.index)
    return pd.concat([frame, flat.add_prefix(QS_PREFIX)], axis=1)


def _empty() -> pd.DataFrame:
    """A frame with the right columns and no rows, for callers that accept 'no runs yet'."""
    dtypes = _REQUIRED | HEALTH_FIELDS
    frame = pd.DataFrame({c: pd.Series(dtype=dtypes.get(c, "object")) for c in COLUMNS})
    return frame.astype({"complete": "bool"})


def load_runs(root: str | Path, allow_empty: bool = False) -> pd.DataFrame:
    """Every `cycles.jsonl` under `root` as one row per (run, cycle).

    Partial runs are kept and flagged `complete=False`. Raises RunLogError on no runs (unless
    `allow_empty`), corrupt lines, duplicate cycles, and runs of one experiment with different specs.
    """
    root = Path(root)
    paths = sorted(root.rglob("cycles.jsonl")) if root.is_dir() else []
    frames = []
    for path in paths:
        records, truncated = _parse_cycles(path)
        if not records:
            warnings.warn(f"{path}: no completed cycle yet; nothing to analyse", stacklevel=2)
            continue
        cycles = [int(r["cycle"]) for r in records]
        dup = sorted({c for c in cycles if cycles.count(c) > 1})
        if dup:
            raise RunLogError(f"{path}: {plural('cycle', len(dup))} {dup} recorded more than once")
        expected = _expected_cycles(path.parent)
        complete = expected is not None and not truncated and set(range(expected)) <= set(cycles)
        frame = _flatten_query_stats(pd.DataFrame.from_records(records))
        for col in _OPTIONAL + list(HEALTH_FIELDS):
            if col not in frame:
                frame[col] = None
        frame["ablation"] = [
            ablation_kind(e, d) for e, d in zip(frame["experiment"], frame["dataset"], strict=True)
        ]
        frame["hardware"] = _hardware(path.parent, frame["device"].iloc[0])
        frame["run_dir"] = str(path.parent)
        frame["complete"] = complete
        frame["expected_cycles"] = expected
        qs = [c for c in frame.columns if c.startswith(QS_PREFIX)]
        frames.append(frame[COLUMNS + qs])
    if not frames:
        if allow_empty:
            return _empty()
        raise RunLogError(f"no runs found under {root}: {HOW_TO_RUN}")
    with warnings.catch_warnings():  # all-NA qs_ columns of some runs: concat keeps them object
        warnings.simplefilter("ignore", FutureWarning)
        df = pd.concat(frames, ignore_index=True)
    df = df.astype(_REQUIRED).astype({"complete": "bool", "expected_cycles": "Int64"})
    for col, dtype in HEALTH_FIELDS.items():
        values = pd.to_numeric(df[col].astype("object").where(df[col].notna()), errors="coerce")
        df[col] = values.astype("float64").astype(dtype) if dtype != "boolean" else _flags(df[col])
    _check_one_spec_per_experiment(df)
    keys = ["experiment", "strategy", "seed", "cycle"]
    return df.sort_values(keys + ["run_dir"], kind="stable").reset_index(drop=True)


def _flags(values: pd.Series) -> pd.Series:
    """True/False where a record says so, <NA> where it is missing (unknown, not unhealthy)."""
    return values.map(lambda v: v if isinstance(v, bool) else pd.NA).astype("boolean")


def _check_one_spec_per_experiment(df: pd.DataFrame) -> None:
    """Runs pooled under one experiment name must come from the same resolved spec, once per seed."""
    runs = df.drop_duplicates("run_dir")
    keys = ["experiment", "strategy", "seed"]
    twice = runs[runs.duplicated(keys, keep=False)].sort_values(keys + ["run_dir"])
    if len(twice):
        a, b = twice.iloc[0], twice.iloc[1]
        raise RunLogError(
            f"{a.run_dir} and {b.run_dir} are both {a.experiment}/{a.strategy} seed {a.seed}; "
            "keep one of them"
        )
    checked = df[~df["strategy"].isin(_HASH_EXEMPT)]
    for experiment, group in checked.groupby("experiment", sort=True):
        firsts = group.drop_duplicates("spec_hash")
        if len(firsts) > 1:
            a, b = firsts.iloc[0], firsts.iloc[1]
            raise RunLogError(
                f"experiment {experiment!r} mixes specs: {a.run_dir} has spec_hash {a.spec_hash}, "
                f"{b.run_dir} has {b.spec_hash}; move one to another results root or rename "
                "its experiment"
            )
