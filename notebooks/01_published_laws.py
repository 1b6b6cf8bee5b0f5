# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Planning with published laws: why Chinchilla, Epoch and Kaplan disagree
#
# Three published answers to "how big a model for C FLOPs?". Hoffmann et al. (2022) fitted a loss
# surface L(N, D) = E + A/N^α + B/D^β (their Approach 3) and also read the allocation directly
# off training curves (Approach 1). Besiroglu et al. (2024, "Epoch") refitted Approach 3 on the
# same data and found the original optimiser had stopped early. Kaplan et al. (2020) fitted
# early-stopped runs with non-embedding parameters. This notebook runs top to bottom with
# `python notebooks/01_published_laws.py`.

# %%
import numpy as np

import scaling
from scaling.units import si

budgets = np.array([1e20, 1e21, 1e22, 5.76e23, 1e25])
laws = ["chinchilla-2022", "epoch-2024", "chinchilla-approach1", "kaplan-2020"]

# %% [markdown]
# ## The compute-optimal size at a few budgets

# %%
import warnings

warnings.simplefilter("ignore")  # the largest budgets are extrapolations for every law; we know
rows = []
for name in laws:
    df = scaling.plan_table(budgets, law=name)
    rows.append((name, df))
print(f"{'FLOPs':>10}" + "".join(f"{n:>24}" for n in laws))
for i, C in enumerate(budgets):
    cells = [f"{si(df.params[i])} / {df.tokens_per_param[i]:.0f} tpp" for _, df in rows]
    print(f"{C:>10.3g}" + "".join(f"{c:>24}" for c in cells))

# %% [markdown]
# At the Gopher budget (5.76e23 FLOPs) Hoffmann's unrounded Approach 3 constants give about 40B
# parameters, the Epoch refit 72B, Approach 1 about 68B: the famous "Chinchilla 70B" answer comes
# from Approaches 1 and 2, not from the published Approach 3 constants, whose exponent a = 0.46
# puts ever more tokens per parameter at larger budgets.

# %%
ch = scaling.get_law("chinchilla-2022")
ep = scaling.get_law("epoch-2024")
print(f"exponent a (N_opt ∝ C^a): Hoffmann {ch.a:.3f}, Epoch {ep.a:.3f}, "
      f"Approach 1 {scaling.get_law('chinchilla-approach1').a:.3f}, Kaplan 0.73")
for N in (7e9, 70e9):
    for law in (ch, ep):
        C = law.flops_for_params(N)
        print(f"{law.name:>16}: a compute-optimal {si(N)} model trains on "
              f"{law.frontier(C)[1] / N:.0f} tokens per parameter")

# %% [markdown]
# ## The same model, judged by two laws
# Llama-2-7B-like: 7B parameters on 2T tokens. Both laws say it is far past its compute-optimal
# token count; they disagree about how much compute the same loss would need on the frontier.

# %%
for name in ("chinchilla-2022", "epoch-2024"):
    (p,) = scaling.plan(params=7e9, tokens=2e12, law=name)
    f = p.frontier
    print(f"{name:>16}: loss {p.loss:.3f}; at its budget {p.flops:.2e} the optimum is "
          f"{si(f['params'])} params (loss {f['loss']:.3f}); the frontier reaches loss {p.loss:.3f} "
          f"with {100 * f['compute_efficiency']:.0f}% of the compute")

# %% [markdown]
# ## Kaplan's allocation
# Kaplan's N_opt ∝ C^0.73 (non-embedding parameters, early stopping) gives far larger models
# and far fewer tokens: at 1e22 FLOPs, compare:

# %%
for name in ("kaplan-2020", "epoch-2024"):
    (p,) = scaling.plan(1e22, law=name)
    print(f"{name:>16}: {si(p.params)} params ({p.params_convention}), {si(p.tokens)} tokens, "
          f"{p.tokens_per_param:.1f} tokens/param")

# %% [markdown]
# ## Cost of the Epoch plan on H100s

# %%
hw = scaling.Hardware(accelerator="h100", gpus=1024, mfu=0.4, price_per_gpu_hour=2.5)
for p in scaling.plan([1e22, 1e23, 1e24], law="epoch-2024", hardware=hw):
    b = p.budget
    print(f"{p.flops:.0e} FLOPs: {si(p.params)} params, {si(p.tokens)} tokens, "
          f"{b['gpu_hours']:.3g} GPU-hours = {b['days']:.1f} days on 1024 GPUs, ${si(b['cost_usd'])}")
