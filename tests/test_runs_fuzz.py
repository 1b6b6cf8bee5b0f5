"""Fuzzing the runs loader through the entry ``scaling fit`` uses (``scaling.fit.api.load_for``):
random bytes, random columns, random values and random loader options either load or raise a
ScalingError (one line, exit status 2 at the CLI); never another exception, which the CLI would
show as an "internal error"."""

from __future__ import annotations

import os
import tempfile
import warnings

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scaling.errors import ScalingError
from scaling.fit.api import load_for
from scaling.runs import load_runs

SUFFIXES = (".csv", ".tsv", ".json", ".jsonl", ".txt", ".csv.gz", ".parquet", "")
NAMES = (
    "params",
    "N",
    "Model Size",
    "tokens",
    "D",
    "num_tokens",
    "flops",
    "C",
    "budget",
    "loss",
    "val_loss",
    "train_loss",
    "loss_c4_val",
    "run_id",
    "name",
    "status",
    "seed",
    "dataset",
    "U",
    "unique_tokens",
    "sparsity",
    "flops_convention",
    "nonzero_params",
    "x",
    "",
    " ",
    "loss loss",
    "N_no_embed",
)
VALUES = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=1e-3, max_value=1e25),
    st.integers(min_value=-10, max_value=10**22),
    st.sampled_from(
        [
            "2.8B",
            "125m",
            "1.4T",
            "70B",
            "1e9",
            "abc",
            "",
            " ",
            "nan",
            "inf",
            "-inf",
            "ok",
            "failed",
            "done",
            "1,000",
            "1e400",
            "0x10",
            "True",
            "None",
            "null",
            "[1, 2]",
            "6nd",
            "palm",
            "'",
            '"',
        ]
    ),
    st.booleans(),
    st.none(),
    st.text(max_size=8),
)
OPTIONS = st.fixed_dictionaries(
    {},
    optional={
        "params_col": st.sampled_from(NAMES),
        "tokens_col": st.sampled_from(NAMES),
        "flops_col": st.sampled_from(NAMES),
        "loss_col": st.sampled_from(NAMES),
        "run_id_col": st.sampled_from(NAMES),
        "where": st.sampled_from(
            [
                "params > 1e6",
                "dataset == 'a'",
                "`Model Size` > 0",
                "loss <",
                "nonexistent == 1",
                "params",
                "1",
                "__import__('os')",
                "seed == seed",
                "x.str.len() > 2",
            ]
        ),
        "min_flops": st.sampled_from(["1e18", "abc", "-1", "0", 1e30, "70B"]),
        "max_flops": st.sampled_from(["1e22", "x", 0.0]),
        "drop_failed": st.booleans(),
    },
)

FUZZ = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _load(path: str, method: str, options: dict):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return load_for(method, path, **options)
        except ScalingError as exc:
            assert "\n" not in str(exc) and str(exc).strip(), repr(exc)
            return None


def _write(data: bytes, suffix: str) -> str:
    fd, path = tempfile.mkstemp(suffix=suffix)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    return path


@FUZZ
@given(
    data=st.binary(max_size=400), suffix=st.sampled_from(SUFFIXES), method=st.sampled_from(["approach3", "approach1"])
)
def test_random_bytes(data, suffix, method):
    path = _write(data, suffix)
    try:
        _load(path, method, {})
    finally:
        os.unlink(path)


@FUZZ
@given(
    columns=st.lists(st.sampled_from(NAMES), min_size=1, max_size=7),
    rows=st.integers(min_value=0, max_value=6),
    data=st.data(),
    options=OPTIONS,
    suffix=st.sampled_from((".csv", ".tsv", ".jsonl")),
    method=st.sampled_from(["approach3", "approach2", "approach1", "datacon"]),
)
def test_random_tables(columns, rows, data, options, suffix, method):
    table = {}
    for i, c in enumerate(columns):  # repeated names are allowed: pandas renames or keeps them
        table[f"{c}" if c not in table else f"{c}.{i}"] = data.draw(st.lists(VALUES, min_size=rows, max_size=rows))
    df = pd.DataFrame(table)
    if suffix == ".tsv":
        text = df.to_csv(sep="\t", index=False)
    elif suffix == ".jsonl":
        text = df.to_json(orient="records", lines=True)
    else:
        text = df.to_csv(index=False)
    path = _write(text.encode("utf-8", "surrogatepass"), suffix)
    try:
        _load(path, method, options)
    finally:
        os.unlink(path)


@FUZZ
@given(n=st.integers(min_value=2, max_value=12), data=st.data(), options=st.one_of(st.just({}), st.just({}), OPTIONS))
def test_plausible_tables_with_random_values(n, data, options):
    """The canonical columns present, their values mostly plausible: the validators' and checks' paths."""
    good = st.floats(min_value=1e-3, max_value=1e25)
    num = (
        good
        if data.draw(st.booleans())
        else st.one_of(
            good, good, st.floats(allow_nan=True, allow_infinity=True), st.sampled_from(["1.5B", "x", "", "-3", "0"])
        )
    )
    df = pd.DataFrame({c: data.draw(st.lists(num, min_size=n, max_size=n)) for c in ("params", "tokens", "loss")})
    if data.draw(st.booleans()):
        df["flops"] = data.draw(st.lists(num, min_size=n, max_size=n))
    if data.draw(st.booleans()):
        df["dataset"] = data.draw(st.lists(st.sampled_from(["a", "b"]), min_size=n, max_size=n))
    path = _write(df.to_csv(index=False).encode(), ".csv")
    try:
        out = _load(path, "approach3", options)
        if out is not None:
            assert {"params", "tokens", "flops", "loss"} <= set(out.columns)
            assert (out[["params", "tokens", "flops", "loss"]].to_numpy(dtype=float) > 0).all()
    finally:
        os.unlink(path)


def test_derived_flops_that_underflow_are_a_one_line_error():
    """Found by the fuzzer: params 2.9e-191 and tokens 3.9e-200 are positive, their 6ND is 0."""
    df = pd.DataFrame({"params": [2.9e-191, 1e6], "tokens": [3.9e-200, 2e7], "loss": [1.0, 3.0]})
    with pytest.raises(ScalingError, match=r"^row 1: flops derived from the other columns is 0 .*units"):
        load_runs(df)
