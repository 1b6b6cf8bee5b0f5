"""The training data stream: which token windows each optimizer step and each evaluation reads.

A corpus is named, listed and split in :mod:`scaling.train.corpus`, fetched in
:mod:`scaling.train.fetch` (the Debian corpora; the text of ``debian-docs-large`` is extracted in
:mod:`scaling.train.extract`) and tokenized into cached memmaps in :mod:`scaling.train.tokens`
(:func:`~scaling.train.tokens.prepare`). This module draws batches from those tokens: the batch of
step ``s`` is a pure function of ``(seed, s)``, so a resumed run reads exactly what an
uninterrupted one would, and the held-out windows are the same for every run on a corpus.

``python -m scaling.train.data fetch|info [CORPUS]`` fetches or prepares a corpus (as
``scaling data`` does). None of these modules imports torch.
"""

from __future__ import annotations

import argparse
import functools
import sys

import numpy as np

from ..errors import ScalingError
from .corpus import DEFAULT_CORPUS
from .fetch import fetch_corpus
from .tokens import prepare

# ---------------------------------------------------------------------------------------------
# batches: a pure function of (seed, step)


def batch_offsets(
    n_tokens: int, context: int, batch_size: int, seed: int, step: int, order: str = "random"
) -> np.ndarray:
    """Start offsets of the training sequences of one optimizer step: depends only on (seed, step),
    so a resumed run sees exactly the data an uninterrupted one would.

    ``random``: windows drawn with replacement. ``shuffled``: sequence ``g = step * batch_size + i``
    is window ``perm_e[g mod W]`` of the ``W`` non-overlapping windows (stride ``context``), with a
    seeded permutation per epoch ``e = g // W``: no token is trained twice within an epoch.
    """
    high = n_tokens - context - 1
    if high < 0 or (order == "random" and high == 0):
        raise ScalingError(f"the training split has {n_tokens} tokens, fewer than one sequence of {context + 1}")
    if order == "shuffled":
        n_win = high // context + 1
        g = np.arange(step * batch_size, (step + 1) * batch_size, dtype=np.int64)
        epochs, pos = np.divmod(g, n_win)
        out = np.empty(batch_size, dtype=np.int64)
        for e in np.unique(epochs):
            sel = epochs == e
            out[sel] = _window_permutation(n_win, int(seed), int(e))[pos[sel]] * context
        return out
    if order != "random":
        raise ScalingError(f"unknown data order {order!r} (random or shuffled)")
    rng = np.random.default_rng([int(seed), int(step)])
    return rng.integers(0, high + 1, size=batch_size)


@functools.lru_cache(maxsize=4)
def _window_permutation(n_windows: int, seed: int, epoch: int) -> np.ndarray:
    return np.random.default_rng([seed, epoch, 0x5EED]).permutation(n_windows)


def eval_offsets(n_tokens: int, context: int, n_tokens_eval: int) -> np.ndarray:
    """Fixed, evenly spread, non-overlapping held-out windows (the same for every run of a corpus)."""
    n_seq = max(1, n_tokens_eval // context)
    high = n_tokens - context - 1
    if high < 0:
        raise ScalingError(f"the held-out split has {n_tokens} tokens, fewer than one sequence of {context + 1}")
    n_seq = min(n_seq, max(1, (high + 1) // context))
    return np.linspace(0, high, n_seq).astype(np.int64)


def gather(tokens: np.ndarray, offsets: np.ndarray, context: int) -> tuple[np.ndarray, np.ndarray]:
    """Inputs and next-token targets (int64, shape (len(offsets), context)) at the offsets."""
    idx = offsets[:, None] + np.arange(context + 1)[None, :]
    buf = np.asarray(tokens[idx], dtype=np.int64)
    return buf[:, :-1], buf[:, 1:]


def main(argv: list[str] | None = None) -> int:
    """``python -m scaling.train.data fetch|info [CORPUS]`` (the same as ``scaling data``)."""
    p = argparse.ArgumentParser(prog="python -m scaling.train.data")
    p.add_argument("action", choices=["fetch", "info"])
    p.add_argument("corpus", nargs="?", default=DEFAULT_CORPUS)
    p.add_argument("--tokenizer", default="bytes")
    p.add_argument("--data-dir", default=None)
    a = p.parse_args(argv)
    try:
        if a.action == "fetch":
            fetch_corpus(a.corpus, a.data_dir)
        else:
            print(prepare(a.corpus, a.tokenizer, data_dir=a.data_dir, quiet=False))
    except ScalingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
