"""The parts every figure shares: a headless Figure, bands over seeds, legends, captions, files.

Figures are built on `matplotlib.figure.Figure` with the Agg canvas, never through pyplot, so they
work headless, leak no global state, and are returned for the caller (or a notebook) to show.
Bands follow one rule (`stats.band`): ±1 std over seeds below 3 seeds, a 95% t-interval from 3, and
every legend says which. A figure with nothing to draw is never drawn: its function raises
`NoFigure`, whose message says what to run to get it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from vaal_core.errors import ExpectedError
from vaal_core.storage import write_atomic

from .stats import band, band_label
from .style import UNHEALTHY_COLOR

__all__ = [
    "NoFigure",
    "Captioned",
    "new_figure",
    "save_figure",
    "captioned_figure",
    "band_line",
    "legend",
    "mark_unhealthy",
    "unhealthy_count",
    "UNHEALTHY_LABEL",
]

UNHEALTHY_LABEL = "task model did not fit its labeled set"


class NoFigure(ExpectedError, ValueError):
    """The records hold nothing this figure draws; the message says what to run to get it."""


def new_figure(n_panels: int, width: float = 5.0, height: float = 4.0) -> tuple[Figure, list[Axes]]:
    """A figure of `n_panels` panels (at most 3 a row); unused grid cells are hidden."""
    ncols = max(1, min(n_panels, 3))
    nrows = max(1, math.ceil(n_panels / ncols))
    fig = Figure(figsize=(width * ncols, height * nrows), layout="constrained")
    FigureCanvasAgg(fig)
    axes = list(fig.subplots(nrows, ncols, squeeze=False).ravel())
    for ax in axes[n_panels:]:
        ax.remove()
    return fig, axes[:n_panels]


def save_figure(fig: Figure, out: str | Path) -> list[Path]:
    """Write `<out>.png` and `<out>.pdf` (a trailing .png/.pdf in `out` is ignored)."""
    stem = Path(out)
    if stem.suffix.lower() in {".png", ".pdf"}:
        stem = stem.with_suffix("")
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = [stem.parent / f"{stem.name}.png", stem.parent / f"{stem.name}.pdf"]
    for path in paths:
        kind = path.suffix[1:]
        write_atomic(path, lambda f, k=kind: fig.savefig(f, format=k, dpi=150, bbox_inches="tight"))
    return paths


@dataclass
class Captioned:
    """A figure and the caption that says what it shows, what its bands are, and what is missing.

    In a notebook it displays as the figure followed by the caption.
    """

    figure: Figure
    caption: str
    missing: list[str] = field(default_factory=list)

    def save(self, out: str | Path) -> list[Path]:
        """`<out>.png`, `<out>.pdf` and the caption as `<out>.txt`."""
        paths = save_figure(self.figure, out)
        text = paths[0].with_suffix(".txt")
        write_atomic(text, (self.caption + "\n").encode())
        return paths + [text]

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.figure)
        print(self.caption)


def caption_text(title: str, body: Sequence[str], missing: Sequence[str]) -> str:
    lines = [title + ". " + " ".join(b for b in body if b)]
    if missing:
        lines += ["Missing:"] + [f"- {m}" for m in missing]
    else:
        lines.append("Missing: nothing expected is missing.")
    return "\n".join(lines)


def captioned_figure(
    fig: Figure, title: str, body: Sequence[str], missing: list[str], out: str | Path | None
) -> Captioned:
    """The figure with its caption, saved (png, pdf, txt) when `out` is given."""
    captioned = Captioned(fig, caption_text(title, body, missing), missing)
    if out is not None:
        captioned.save(out)
    return captioned


def points(data: pd.DataFrame, x: str, y: str) -> pd.DataFrame:
    """Mean and band (stats.band: ±1 std below 3 seeds, 95% t-interval from 3) per x."""
    rows = []
    for xv, at in data.groupby(data[x].round(6), sort=True):
        mean, lo, hi, _ = band(at[y])
        rows.append(dict(x=xv, mean=mean, lo=lo, hi=hi, n=int(at[y].notna().sum())))
    return pd.DataFrame(rows, columns=["x", "mean", "lo", "hi", "n"]).dropna(subset=["mean"])


def band_line(
    ax: Axes,
    data: pd.DataFrame,
    x: str,
    y: str,
    label: str,
    color: str,
    linestyle: str = "-",
    marker: str = "o",
    bounds: tuple[float | None, float | None] = (None, None),
) -> list[int]:
    """A mean line over seeds with its band shaded, the band clipped to `bounds`, the values the
    quantity can take (a count >= 0, accuracy in [0, 100]: a few seeds' std can cross them);
    returns the seed count of every point."""
    pts = points(data, x, y)
    if pts.empty:
        return []
    pts[["lo", "hi"]] = pts[["lo", "hi"]].clip(lower=bounds[0], upper=bounds[1])
    ax.plot(
        pts["x"], pts["mean"], linestyle=linestyle, marker=marker, ms=4, color=color, label=label
    )
    ax.fill_between(pts["x"], pts["lo"], pts["hi"], color=color, alpha=0.15, linewidth=0)
    return pts["n"].tolist()


def legend(ax: Axes, counts: Sequence[int], **kw) -> None:
    """Legend whose last entry names what the shaded bands are (and over how many seeds)."""
    handles, labels = ax.get_legend_handles_labels()
    if counts and max(counts) >= 2:  # one seed draws no band: the title says "1 seed"
        handles.append(Patch(color="grey", alpha=0.3))
        labels.append(band_label(list(counts)))
    if handles:
        ax.legend(handles, labels, fontsize="small", **kw)


def label_axes_plain(ax: Axes, title: str, xlabel: str, ylabel: str) -> None:
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.grid(alpha=0.3)
    legend(ax, [])


def _unhealthy(runs: pd.DataFrame) -> pd.Series:
    return runs["fit_ok"].astype("boolean").eq(False).fillna(False).astype(bool)


def unhealthy_count(runs: pd.DataFrame) -> int:
    """Records whose task model did not fit (`fit_ok` False); <NA> (old records) is unknown."""
    return int(_unhealthy(runs).sum()) if "fit_ok" in runs else 0


def mark_unhealthy(ax: Axes, runs: pd.DataFrame, x: str, y: str) -> int:
    """An x on every run's point whose task model did not fit; returns how many."""
    if not unhealthy_count(runs):
        return 0
    bad = runs[_unhealthy(runs)]
    seen = UNHEALTHY_LABEL in ax.get_legend_handles_labels()[1]
    ax.plot(
        bad[x],
        bad[y],
        "x",
        color=UNHEALTHY_COLOR,
        ms=9,
        mew=2,
        linestyle="none",
        label="_nolegend_" if seen else UNHEALTHY_LABEL,
        zorder=5,
    )
    return len(bad)
