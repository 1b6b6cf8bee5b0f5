"""The bootstrap's report on a fit (``FitResult.bootstrap``): how many resamples, over what (runs,
or the groups of a cluster bootstrap), how many refits failed or ended on a bound, and what the
intervals rest on. Kept apart from :mod:`scaling.fit.bootstrap` (which re-exports it) to keep that
module short.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_serializer

from .clusters import describe


class BootstrapInfo(BaseModel):
    """How the bootstrap went. Fit files written before the health counts load with ``failed`` and
    ``on_bound`` empty and ``n_on_bound`` None (not recorded)."""

    model_config = ConfigDict(frozen=True)
    n: int = 0  # resamples drawn
    seed: int | None = None
    level: float = 0.95
    n_failed: int = 0  # refits that failed: no fit possible, raised, did not converge, non-finite
    failed: dict[str, int] = Field(default_factory=dict)  # n_failed by reason
    n_on_bound: int | None = None  # refits (of those that did not fail) with any parameter on a bound
    on_bound: dict[str, int] = Field(default_factory=dict)  # "E (lower)" -> refits with E on its lower bound
    bound_rtol: float | None = None  # "on a bound": within bound_rtol * max(1, |bound|) of it (None: no bounds)
    # the percentile intervals: the refits that did not fail, on-bound ones included (dropping them
    # would bias the interval away from the bound); failed refits left out
    intervals_include_on_bound: bool = True
    intervals_include_failed: bool = False
    # a cluster bootstrap (:mod:`scaling.fit.clusters`): the grouping columns and the number of
    # groups; None for the row bootstrap (and then left out of the fit file, as before)
    by: list[str] | None = None
    n_groups: int | None = None

    @model_serializer(mode="wrap")
    def _without_row_grouping(self, handler):
        out = handler(self)
        if self.by is None:
            out.pop("by", None)
            out.pop("n_groups", None)
        return out

    @property
    def n_used(self) -> int:
        return self.n - self.n_failed

    def lines(self) -> list[str]:
        """The bootstrap's report: counts of failed and on-bound refits and what the intervals rest on."""
        if not self.n:
            return []
        head = (
            f"bootstrap: {self.n} resamples over {self.over()}, seed {self.seed}: {self.n_failed} failed "
            f"({_pct(self.n_failed, self.n)}"
        )
        if self.failed:
            head += ": " + ", ".join(f"{why} {k}" for why, k in self.failed.items())
        head += ")"
        if self.n_on_bound is None:
            head += ", on-bound refits not recorded"
        elif self.bound_rtol is None and not self.n_on_bound:
            head += ", no bounded parameters"
        else:
            head += f", {self.n_on_bound} with a parameter on a bound ({_pct(self.n_on_bound, self.n)}"
            if self.on_bound:
                head += ": " + bound_phrase(self.on_bound)
            head += ")"
        tail = (
            f"  intervals: percentiles of the {self.n_used} refits that did not fail"
            + ("; on-bound refits included" if self.intervals_include_on_bound else "; on-bound refits left out")
            + ("" if self.intervals_include_failed else "; failed refits left out")
        )
        return [head, tail]

    def over(self) -> str:
        """What a resample draws: "runs", or "10 groups of params" for a cluster bootstrap."""
        return "runs" if self.by is None else describe(int(self.n_groups or 0), self.by)


def bound_phrase(on_bound: dict[str, int]) -> str:
    """{"E (lower)": 34, "alpha (upper)": 2} -> "E at its lower bound 34, alpha at its upper bound 2"."""
    out = []
    for key, k in on_bound.items():
        nm, _, side = key.rpartition(" (")
        out.append(f"{nm} at its {side.rstrip(')')} bound {k}" if nm else f"{key} {k}")
    return ", ".join(out)


def _pct(k: int, n: int) -> str:
    return f"{100.0 * k / n:.1f}%" if n else "-"


__all__ = ["BootstrapInfo", "bound_phrase"]
