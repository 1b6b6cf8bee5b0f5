# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Fitting public scaling data with every method, and comparing them
#
# Two public data sets from `../shared/data` (see its README for provenance and licences):
#
# - **porian2024**: isoFLOP sweeps of Porian et al. (2024), "Resolving Discrepancies in
#   Compute-Optimal Scaling of Language Models". We take the configuration the paper ends on,
#   "Optimizer tuning (no decay)", validation loss on RefinedWeb: 12 FLOP budgets from 1.25e16 to
#   2.56e19 FLOPs. The paper's own Approach 2 exponent there is close to a = 0.50.
# - **gadre2024**: final losses of Gadre et al. (2024), "Language models scale reliably with
#   over-training", trained on C4 at 5 to 640 tokens per parameter. We fit the four smaller sizes
#   (10M-411M) and predict the 1.4B and 6.9B runs that were held out.
#
# and the OPT training curves (Zhang et al. 2022, via Choshen et al. 2024) for Approach 1.
#
# Methods: Approach 1 (envelope of training curves), Approach 2 (isoFLOP parabolas), Approach 3
# (the Chinchilla surface, Huber on log loss, 4,500 starts), variable projection (the same surface,
# solved for E, A, B in closed form at each exponent pair) and the Kaplan et al. (2020) surface.
# Run top to bottom with `python notebooks/02_fit_public_data.py`; figures go to
# `$SCALING_NOTEBOOK_OUT` (default `build/notebooks`).

# %%
import os
import warnings
from pathlib import Path

import numpy as np

from scaling import plots
from scaling.fit import fit
from scaling.fit.holdout import compare_forms, format_comparison
from scaling.runs import load_curves, load_runs

warnings.simplefilter("ignore")  # loader notes (log10 columns) and extrapolation warnings: we know
DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" if "__file__" in globals() \
    else Path("../shared/data").resolve()
# the test suite points this at tests/fixtures/public (synthetic stand-ins) in a clone without ../shared
DATA = Path(os.environ.get("SCALING_PUBLIC_DATA") or DATA)
OUT = Path(os.environ.get("SCALING_NOTEBOOK_OUT", "build/notebooks"))
OUT.mkdir(parents=True, exist_ok=True)
# bootstrap resamples for the fast methods: enough for a readable band, quick enough for a notebook;
# VP and Kaplan are fitted once (their bootstraps take minutes here). The test suite, which checks that
# every cell runs, sets SCALING_NOTEBOOK_BOOTSTRAP to a few.
NB = int(os.environ.get("SCALING_NOTEBOOK_BOOTSTRAP", 100))
BOOT = {"approach2": NB, "approach3": NB, "vp": 0, "kaplan": 0}


def show(fig, name):
    path = plots.save(fig, OUT / name, dpi=110)
    plots.close(fig)
    print(f"  figure: {path}")


# %% [markdown]
# ## 1. Porian et al.: an isoFLOP sweep

# %%
porian = load_runs(DATA / "porian2024" / "porian_isoflop_points.csv",
                   where="label == 'Optimizer tuning (no decay)' and loss_type == 'val' and dataset == 'rw'")
print(f"porian2024: {len(porian)} runs, {porian['params'].nunique()} sizes, "
      f"FLOPs {porian['flops'].min():.3g} .. {porian['flops'].max():.3g}")

fits_p = {m: fit(porian, method=m, bootstrap=BOOT[m], seed=0) for m in ("approach2", "approach3", "vp", "kaplan")}
print(fits_p["approach2"].summary())

# %% [markdown]
# The same runs, four methods. Approach 2 reads the allocation straight off the isoFLOP minima; the
# three surface fits (Approach 3, VP, Kaplan) use every run, including the far walls of each
# isoFLOP valley, and derive the allocation from the fitted surface.


# %%
def allocation_row(name, res, C=(1e21, 1e23)):
    law = res.to_law()
    n21, d21 = law.frontier(C[0])
    n23, d23 = law.frontier(C[1])
    a = np.log(n23 / n21) / np.log(C[1] / C[0])
    iv = res.intervals.get("a")
    iv_s = f"({iv[0]:.3f}, {iv[1]:.3f})" if iv else ""
    return (f"{name:<11}{a:>7.3f} {iv_s:<17}{n21 / 1e9:>9.2f}B{d21 / n21:>9.1f}"
            f"{n23 / 1e9:>10.1f}B{d23 / n23:>9.1f}")


head = f"{'method':<11}{'a':>7} {'95% interval':<17}{'N@1e21':>10}{'D/N':>9}{'N@1e23':>11}{'D/N':>9}"
print(head)
for m, res in fits_p.items():
    print(allocation_row(m, res))
ref = fits_p["approach2"].params["a"]
print(f"\nApproach 2 gives a = {ref:.3f} (Porian et al. report about 0.50 for this configuration).")

# %% [markdown]
# Approach 2 pins the exponent down tightly. The Chinchilla surface (Approach 3 and VP, which
# should and do agree) lands near it but with a far wider interval: it is a compromise
# over every run, including the far walls of each valley (losses of 5-9 nats beside 3-4.5 nat
# minima), and the isoFLOP figure shows where its dashed prediction misses the valley floors that
# the parabolas (solid) trace. The Kaplan form has no irreducible loss; forced through these runs
# it puts almost all compute into parameters, an allocation nobody would use.

# %%
show(plots.isoflop(porian, fit=fits_p["approach2"], law=fits_p["approach3"]), "porian_isoflop.png")
show(plots.frontier(fits_p["approach2"]), "porian_frontier_approach2.png")
show(plots.frontier(fits_p["approach3"]), "porian_frontier_approach3.png")

# %% [markdown]
# ## 2. Gadre et al.: extrapolating to the held-out 1.4B and 6.9B runs

# %%
gadre = load_runs(DATA / "gadre2024" / "gadre2024_final_losses.csv", where="dataset == 'c4_original'")
held = gadre["params"] > 1e9
print(f"gadre2024 (C4): {len(gadre)} runs; fitting {int((~held).sum())} runs of the four smaller sizes, "
      f"holding out {int(held.sum())} ({', '.join(sorted(gadre.loc[held, 'model'].unique()))})")
threshold = float(gadre.loc[held, "params"].min())
table = compare_forms(gadre, threshold, methods=("approach3", "vp", "kaplan"), by="params", skip_errors=True)
print(format_comparison(table))

# %% [markdown]
# `compare_forms` fits each method below the size threshold and scores the prediction above it.
# The paper's claim is that the small runs predict the large ones "within a few percent".

# %%
preds = table.attrs["predictions"]
print(f"\n{'run':<28}{'observed':>9}" + "".join(f"{c[5:]:>12}" for c in preds.columns if c.startswith("pred_")))
for _, r in preds.iterrows():
    cells = "".join(f"{r[c]:>8.3f}{(r[c] / r['loss'] - 1) * 100:>+4.0f}%" for c in preds.columns if c.startswith("pred_"))
    print(f"{r['run_id']:<28}{r['loss']:>9.3f}{cells}")

# %%
train = gadre.loc[~held]
fits_g = dict(table.attrs["fits"])  # fitted on the same 31 runs by compare_forms
fits_g["approach3"] = fit(train, method="approach3", bootstrap=BOOT["approach3"], seed=0)  # with a band
for m, res in fits_g.items():
    law = res.to_law()
    print(f"{m:>10}: " + ", ".join(f"{k}={v:.4g}" for k, v in res.params.items()) + f"; irreducible loss "
          f"{law.irreducible_loss:.3f}")
show(plots.surface(fits_g["approach3"], gadre, heldout=held.to_numpy()), "gadre_surface.png")
show(plots.residuals(gadre, fits_g["approach3"], heldout=held.to_numpy()), "gadre_residuals_approach3.png")
show(plots.residuals(gadre, fits_g["kaplan"], heldout=held.to_numpy()), "gadre_residuals_kaplan.png")
show(plots.frontier(fits_g["approach3"]), "gadre_frontier_approach3.png")

# %% [markdown]
# The Gadre runs cover 5 to 640 tokens per parameter at each size: a grid in (N, D) rather than
# isoFLOP profiles, so Approach 2 has nothing to fit (every "budget" holds one or two runs). Its
# flags say so:

# %%
a2g = fit(train, method="approach2")
print(f"approach2 on gadre2024: {a2g.extra['n_budgets_used']} of {a2g.extra['n_budgets']} budgets usable; "
      f"first flag: {a2g.flags[0] if a2g.flags else '-'}")

# %% [markdown]
# ## 3. Approach 1 on training curves (OPT)

# %%
opt = load_curves(DATA / "ibm_colpret" / "aggregated_eval_opt_trajectories.csv")
a1 = fit(opt, method="approach1", bootstrap=min(50, NB), seed=0)
print(f"OPT curves: {opt['run_id'].nunique()} runs, {len(opt)} evaluations; "
      f"Approach 1 a = {a1.params['a']:.3f}, won by {int(a1.residuals['n_winners'])} runs")
for f in a1.flags:
    print("  flag:", f)
show(plots.curves(opt, fit=a1), "opt_curves.png")

# %% [markdown]
# Six OPT models of very different sizes overlap in compute only briefly, so only two of them ever
# win the envelope where the optimum is bracketed; the exponent rests on those two and is flagged.
# Approach 1 needs many sizes whose curves overlap.
#
# ## Summary
#
# - On a proper isoFLOP sweep (porian2024), Approach 2 recovers the paper's a ≈ 0.50 with a tight
#   interval; the Chinchilla surface fitted to the same runs agrees within a much wider interval,
#   and the Kaplan form does not describe these runs.
# - On an (N, D) grid (gadre2024), the Chinchilla surface fitted to runs up to 411M predicts the
#   1.4B runs within a few percent and the 6.9B run less well (it is optimistic there); the Kaplan
#   form, with no irreducible loss, is far more optimistic. The bootstrap interval of the allocation
#   exponent is wide: these runs constrain the loss much better than where its minimum lies.
# - Training curves (OPT) support Approach 1 only where sizes overlap in compute.

# %%
print("done")
