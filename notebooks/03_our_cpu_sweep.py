# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Our own isoFLOP sweep: byte-level decoders at 3.16e11..1e14 FLOPs
#
# `sweeps/cpu-isoflop-v2.toml`: 6 budgets in half-decade steps (FLOPs counted under the PaLM
# convention, 6N plus attention's context work) x 7 sizes of byte-level GPT decoders at context 256,
# trained with branched warmup-stable-decay schedules on the large Debian documentation corpus (no run
# sees a token twice), every run in two seeds and the short ones (at most 800 steps) in four. The runs are in `data/runs/cpu-isoflop-v2/`, the table
# in `data/cpu-isoflop-v2-runs.csv`. The law is fitted on the runs at batch 32 from 3.16e12 FLOPs up
# (the spec halves the batch of short runs to give them 250 steps, and those end far below what their
# (N, D) predicts: see the README), each point the mean log loss of its seeds. Loss is in nats per
# byte. Run with `python notebooks/03_our_cpu_sweep.py`; figures go to `$SCALING_NOTEBOOK_OUT`.

# %%
import os
import warnings
from pathlib import Path

import numpy as np

from scaling import plots
from scaling.fit import fit
from scaling.fit.noise import mean_replicates
from scaling.runs import load_runs
from scaling.units import si

warnings.simplefilter("ignore")
OUT = Path(os.environ.get("SCALING_NOTEBOOK_OUT", "build/notebooks"))
OUT.mkdir(parents=True, exist_ok=True)
# bootstrap resamples (the committed fits use 1,000; the test suite, which checks every cell runs, fewer)
NB = int(os.environ.get("SCALING_NOTEBOOK_BOOTSTRAP", 200))
WHERE = "batch_size == 32 and budget >= 3e12"
every = load_runs("data/cpu-isoflop-v2-runs.csv")
runs = load_runs("data/cpu-isoflop-v2-runs.csv", where=WHERE)
print(
    f"{len(every)} runs, {len(runs)} fitted ({WHERE}): {runs.params.min():.3g}..{runs.params.max():.3g} params, "
    f"{runs.flops.min():.3g}..{runs.flops.max():.3g} FLOPs (palm), at most {every.epochs.max():.2f} epochs"
)

# %% [markdown]
# ## The isoFLOP minima
# For each budget: the best point (mean of its seeds), and the Approach 2 parabola's minimum.

# %%
points, _ = mean_replicates(runs)
a2 = fit(runs, method="approach2", bootstrap=NB, seed=0, mean_seeds=True, bootstrap_by=["params"])
for b in a2.extra["budgets"]:
    sub = points[np.isclose(points.budget, b["C"], rtol=0.05)]
    best = sub.loc[sub.loss.idxmin()]
    parab = "flagged: " + b["reason"] if b["flagged"] else f"parabola minimum {si(b['N_opt'])} params"
    print(
        f"C = {b['C']:.3g}: best {si(best.params)} params ({best.tokens / best.params:.0f} tokens/param, "
        f"loss {best.loss:.4f}, {int(best.replicates)} seed(s)); {parab}"
    )

# %% [markdown]
# ## The loss surface, its exponent and how well it fits
# Approach 3 (the Chinchilla surface) on the same points; the report ends with the residual, the worst
# point and the seed noise measured from the replicates. The bootstrap resamples sizes, not points
# (`bootstrap_by`): the points of one size share its trunks.

# %%
a3 = fit(runs, method="approach3", bootstrap=NB, seed=0, mean_seeds=True, bootstrap_by=["params"])
for res in (a2, a3):
    lo, hi = res.intervals.get("a", (float("nan"), float("nan")))
    print(f"{res.method}: a = {res.derived.get('a', res.params.get('a')):.3f} (95% interval {lo:.3f}..{hi:.3f})")
for line in a3.health_lines():
    print(line)

# %%
law = a3.to_law()
points["residual_%"] = 100 * np.log(points.loss / law.loss(points.params.to_numpy(), points.tokens.to_numpy()))
print(points.sort_values(["budget", "params"])[["budget", "params", "tokens", "replicates", "loss", "residual_%"]])

# %% [markdown]
# ## The first sweep, and the same spec on a GPU
# `sweeps/cpu-isoflop.toml` (4 budgets counted as 6ND on the small corpus; its largest runs repeat
# the corpus twice) is kept beside v2, with a copy run on a lent H100 with the same seeds, corpus and
# schedules: the final losses agree run by run to a fraction of a percent.

# %%
first = load_runs("data/cpu-isoflop-runs.csv")
h100 = load_runs("data/cpu-isoflop-h100-runs.csv")
both = first.merge(h100, on="run_id", suffixes=("_cpu", "_h100"))
rel = (both.loss_cpu - both.loss_h100) / both.loss_h100
print(
    f"{len(both)} runs in both: CPU - H100 loss {100 * rel.mean():+.3f}% on average, "
    f"{100 * rel.abs().mean():.3f}% in absolute value, at most {100 * rel.abs().max():.3f}%"
)

# %%
fig = plots.isoflop(points, fit=a2, law=a3)
plots.save(fig, OUT / "cpu_isoflop_v2.png")
fig = plots.residuals(points, a3)
plots.save(fig, OUT / "cpu_residuals_v2.png")
print("figures written to", OUT)
