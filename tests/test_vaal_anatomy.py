"""benchmarks/vaal_anatomy.py and analysis/anatomy.py: the VAE-discriminator grid at a tiny scale,
the KL price against the loss the game really computes, and the report's pointer to the study."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch

import analysis
from analysis.anatomy import beta_vae_equivalent, kl_price
from tests.analysis_fixtures import vaal_stats, write_run
from vaal_core.vaal.game import vae_loss

REPO = Path(__file__).resolve().parent.parent


def _quick(out: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "benchmarks/vaal_anatomy.py", "--quick", "--out", str(out)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=600,
    )


def test_quick_grid_writes_a_table_and_a_figure_and_a_rerun_skips_every_run(tmp_path):
    r = _quick(tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "quick check passed" in r.stdout
    # one progress line per run: 2 pools x (random + 2 corners)
    assert sum(ln.startswith("[") and ": ok in " in ln for ln in r.stdout.splitlines()) == 6
    rows = [ln for ln in (tmp_path / "anatomy_table.md").read_text().splitlines()[2:] if ln]
    assert len(rows) == 4 and {ln.split("|")[1].strip() for ln in rows} == {"biased", "standard"}
    assert (tmp_path / "anatomy.png").stat().st_size > 10_000
    t = pd.read_csv(tmp_path / "anatomy_table.csv").set_index("experiment")
    # the knobs come back from the runs' spec.yaml: the --set overrides reached the runs
    assert t.loc["quick-anatomy-biased-paper", "kl_price"] == 128  # beta * B, KL summed
    assert t.loc["quick-anatomy-biased-klmean-ep4", "kl_price"] == pytest.approx(1 / 32)
    assert t.loc["quick-anatomy-biased-klmean-ep4", "epochs"] == 4
    assert t["disc_auc"].between(0, 1).all() and (t["vae_recon"] > 0).all()
    assert (t["active_units"] >= 0).all() and (t["active_units"] <= t["latent"]).all()
    biased = t[t["pool"] == "biased"]
    assert biased["unseen_vaal"].between(0, 1).all()
    assert biased["unseen_random"].between(0, 1).all()
    assert t[t["pool"] == "standard"]["daubc_test"].notna().all()
    first = (tmp_path / "anatomy_table.md").read_text()
    again = _quick(tmp_path)  # ordinary run directories: nothing is rerun
    assert again.returncode == 0, again.stderr
    assert "6 runs in the design, 6 complete, 0 to run" in again.stdout
    assert (tmp_path / "anatomy_table.md").read_text() == first


@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_kl_price_is_the_rate_vae_loss_charges_per_nat_of_per_image_kl(reduction):
    g = torch.Generator().manual_seed(0)
    b, d, shape = 16, 8, (3, 8, 8)
    x, recon = torch.randn(b, *shape, generator=g), torch.randn(b, *shape, generator=g)
    mu, logvar = torch.randn(b, d, generator=g), torch.randn(b, d, generator=g) * 0.3
    beta = 0.7
    kl_per_image = (-0.5 * (1 + logvar - mu**2 - logvar.exp())).sum(1).mean()
    mse = torch.nn.functional.mse_loss(recon, x)
    loss = vae_loss(x, recon, mu, logvar, beta, reduction)
    price = kl_price(reduction, beta, b, d)
    assert float(loss) == pytest.approx(float(mse + price * kl_per_image), rel=1e-5)
    pixels = 3 * 8 * 8
    sse_per_image = float(mse) * pixels
    equivalent = beta_vae_equivalent(reduction, beta, b, d, pixels)
    expected = sse_per_image + equivalent * float(kl_per_image)
    assert float(loss) * pixels == pytest.approx(expected, rel=1e-5)


def test_the_chance_warning_points_to_the_anatomy_page(tmp_path):
    for seed in (0, 1):
        write_run(
            tmp_path,
            "e",
            "vaal",
            seed,
            [0.5, 0.6],
            extra=lambda c: {"query_stats": vaal_stats(c, (0.51,)) if c < 1 else {}},
        )
    md = analysis.report(tmp_path, figures=False, verbose=False)
    assert "warning: VAAL selected by chance" in md and "see docs/vaal-anatomy.md" in md
    assert (REPO / "docs" / "vaal-anatomy.md").exists()
    learned = tmp_path / "learned"
    write_run(
        learned,
        "e",
        "vaal",
        0,
        [0.5, 0.6],
        extra=lambda c: {"query_stats": vaal_stats(c, (0.9,)) if c < 1 else {}},
    )
    assert "docs/vaal-anatomy.md" not in analysis.report(learned, figures=False, verbose=False)


def test_the_paper_width_cells_differ_from_their_controls_only_in_the_vae_and_discriminator():
    import importlib.util
    import math

    from vaal_core.spec import load_spec

    spec = importlib.util.spec_from_file_location(
        "vaal_anatomy", REPO / "benchmarks/vaal_anatomy.py"
    )
    va = importlib.util.module_from_spec(spec)
    sys.modules["vaal_anatomy"] = va  # its dataclasses look their module up
    spec.loader.exec_module(va)
    runs = va.paper_width_grid([0, 1, 2])
    vaal = [r for r in runs if r.strategy == "vaal"]
    assert sorted({r.cell for r in vaal}) == sorted(
        [c for c in va.PAPER_WIDTH_CELLS] + [c + "-w8" for c in va.PAPER_WIDTH_CELLS]
    )
    assert len(vaal) == 8 * 3 and sum(r.strategy == "random" for r in runs) == 3
    # the main comparison (the paper's balance, the one clear gain) runs every seed first
    assert [r.cell for r in runs[:15] if r.strategy == "vaal" and "-w8" not in r.cell] == [
        "paper",
        "klmean-adv0",
    ] * 3
    for r in vaal:
        resolved = load_spec(REPO / va.POOLS[r.pool][0], va.POOLS[r.pool][1] + list(r.sets))
        wide, v = "-w8" not in r.cell, resolved.to_dict()["vaal"]
        # the paper's VAE and discriminator as the `paper` protocol sizes them, or the grid's
        assert (v["width"], v.get("disc_layers", 2)) == ((128, 4) if wide else (8, 2))
        assert (v.get("latent_dim", 32), v.get("disc_hidden", 512)) == (32, 512)
        assert resolved.runtime.precision == "bf16"
        iterations = math.ceil(v["epochs"] * 6000 / v.get("batch_size", 128))
        assert iterations == va.PAPER_WIDTH_ITERATIONS


def test_paper_width_refuses_quick_in_one_error_line():
    out = subprocess.run(
        [sys.executable, "benchmarks/vaal_anatomy.py", "--width", "paper", "--quick"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    assert out.returncode == 2 and out.stderr.strip().count("\n") == 0
    assert out.stderr.startswith("error: ")
