# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Our own isoFLOP sweep: byte-level decoders at 1e12..1e14 FLOPs
#
# `sweeps/cpu-isoflop.toml`: 4 budgets (1e12, 4.64e12, 2.15e13, 1e14 FLOPs, C = 6ND) x 5 sizes
# of byte-level GPT decoders on Debian's Python and Linux documentation (35 MB). The committed runs
# are in `data/runs/cpu-isoflop/` and the runs table in `data/cpu-isoflop-runs.csv`: this is the
# execution on the 2-core CPU (two 1-thread workers, about 2 hours). An earlier execution of the same
# spec on a lent H100 (`device = "cuda"`) is kept in `data/runs-h100/cpu-isoflop/` and
# `data/cpu-isoflop-h100-runs.csv` for comparison. Loss is in nats per byte.
# Run with `python notebooks/03_our_cpu_sweep.py`; figures go to `$SCALING_NOTEBOOK_OUT`.

# %%
import os
import warnings
from pathlib import Path

import numpy as np

from scaling import plots
from scaling.fit import fit
from scaling.runs import load_runs
from scaling.units import si

warnings.simplefilter("ignore")
OUT = Path(os.environ.get("SCALING_NOTEBOOK_OUT", "build/notebooks"))
OUT.mkdir(parents=True, exist_ok=True)
runs = load_runs("data/cpu-isoflop-runs.csv")
print(f"{len(runs)} runs, {runs.params.min():.3g}..{runs.params.max():.3g} params, "
      f"{runs.flops.min():.3g}..{runs.flops.max():.3g} FLOPs")

# %% [markdown]
# ## The isoFLOP minima
# For each budget: the best run, and the Approach 2 parabola's minimum.

# %%
a2 = fit(runs, method="approach2", bootstrap=300, seed=0)
for b in a2.extra["budgets"]:
    sub = runs[np.isclose(runs.budget, b["C"], rtol=0.05)]
    best = sub.loc[sub.loss.idxmin()]
    parab = "flagged: " + b["reason"] if b["flagged"] else f"parabola minimum {si(b['N_opt'])} params"
    print(f"C = {b['C']:.3g}: best run {si(best.params)} params ({best.tokens / best.params:.0f} tokens/param, "
          f"loss {best.loss:.4f}); {parab}")

# %% [markdown]
# The minima move to larger models as the budget grows, but at far more tokens per parameter than
# Chinchilla's 20: these models are tiny (1e4..1e6 parameters) and byte-level.

# %%
a3 = fit(runs, method="approach3", bootstrap=300, seed=0)
for res in (a2, a3):
    lo, hi = res.intervals.get("a", (float("nan"), float("nan")))
    print(f"{res.method}: a = {res.derived.get('a', res.params.get('a')):.3f} (95% interval {lo:.3f}..{hi:.3f})")
for k, v in a3.params.items():
    lo, hi = a3.intervals.get(k, (float("nan"), float("nan")))
    print(f"  {k:>6} = {v:10.4g}   ({lo:.4g} .. {hi:.4g})")

# %% [markdown]
# With three usable budgets the exponent is poorly determined: the intervals span about 0.25..0.75.
# The next sweep should centre its sizes near 60-70 tokens per parameter and add smaller models at
# 1e12 so that every budget has an interior minimum.

# %% [markdown]
# ## The same spec on a GPU
# The H100 execution trained the same runs (same seeds, corpus fingerprint and schedules) with
# different kernels; the final losses agree run by run to a fraction of a percent.

# %%
h100 = load_runs("data/cpu-isoflop-h100-runs.csv")
both = runs.merge(h100, on="run_id", suffixes=("_cpu", "_h100"))
rel = (both.loss_cpu - both.loss_h100) / both.loss_h100
print(f"{len(both)} runs in both: CPU - H100 loss {100 * rel.mean():+.3f}% on average, "
      f"{100 * rel.abs().mean():.3f}% in absolute value, at most {100 * rel.abs().max():.3f}%")

# %%
fig = plots.isoflop(runs, fit=a3)
plots.save(fig, OUT / "cpu_isoflop.png")
fig = plots.residuals(runs, a3)
plots.save(fig, OUT / "cpu_residuals.png")
print("figures written to", OUT)
