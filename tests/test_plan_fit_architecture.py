"""`scaling plan --law fit.json` plans for the model the fit's runs were: the recorded mixer, context,
vocabulary and sparsity stand in for the options not given (the same numbers as giving them), a given
value wins with a note when the fit did not measure it, a mixed record keeps the default, and a
published law plans as before. Approach 1 fits record their runs' architecture from a sweep's curves."""

import json
import math

import numpy as np
import pytest

from scaling import store
from scaling.fit import FitArchitecture, fit
from scaling.planner.fit_shape import PLAN_DEFAULTS, shape_from_fit
from scaling.store import RunConfig, RunResult

HYENA = "data/arch-cpu-hyena-fit-approach3.json"  # hyena, context 1024, vocab 256; runs in palm FLOPs
ISOFLOP = "data/cpu-isoflop-fit-approach3.json"  # attention, context 256, vocab 256; runs in 6nd FLOPs
SPARSE = "data/sparse-cpu-fit.json"  # a sparsity law: its runs are 0, 50% and 75% sparse
# A plan's interval re-solves the frontier of every bootstrap sample (a palm-counted one numerically, 5-10 s
# of CPU for the ~300-1000 samples the committed fits carry). What these tests check is where the shape comes
# from, so they plan from copies that keep the first SAMPLES samples: the intervals still agree or differ
# as the plans do.
SAMPLES = 24


def _fit_copy(tmp_path, source: str, name: str = "fit.json", **arch) -> str:
    """``source`` with its first SAMPLES bootstrap samples (and ``arch``, if given, as its recorded
    architecture), written under ``tmp_path``."""
    data = json.loads(open(source).read())
    assert len(data["law"]["samples"]) > SAMPLES
    data["law"]["samples"] = data["law"]["samples"][:SAMPLES]
    if arch:
        data["architecture"] = FitArchitecture(**arch).model_dump()
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return str(path)


@pytest.fixture(scope="module")
def hyena(tmp_path_factory) -> str:
    return _fit_copy(tmp_path_factory.mktemp("fits"), HYENA)


def _plans(result) -> list[dict]:
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def _fit_lines(result) -> list[str]:
    return [ln for ln in result.stderr.splitlines() if "shape from the fit" in ln]


def test_the_record_gives_the_same_plan_as_the_flags(cli, hyena):
    got = cli("plan", "2e13", "--law", hyena, "--convention", "palm", "--shape", "--json")
    assert "interval" in _plans(got)[0]
    flags = cli(
        "plan", "2e13", "--law", hyena, "--convention", "palm", "--shape", "--json",
        "--mixer", "hyena", "--context", "1024", "--vocab", "256",
    )  # fmt: skip
    assert _plans(got) == _plans(flags)
    shape = _plans(got)[0]["shape"]
    assert (shape["mixer"], shape["context"], shape["vocab"]) == ("hyena", 1024, 256)
    assert _fit_lines(got) == [
        "scaling: shape from the fit: hyena, context 1024, vocab 256; runs counted in palm FLOPs"
    ]
    # all given: nothing came from the fit, nothing to say
    assert not _fit_lines(flags) and "note:" not in flags.stderr
    # and the default plan is not the record's: hyena's FFTs and context 1024 cost palm FLOPs
    default = cli(
        "plan", "2e13", "--law", hyena, "--convention", "palm", "--json",
        "--mixer", "attention", "--context", "2048", "--vocab", "50257",
    )  # fmt: skip
    assert _plans(default)[0]["params"] != pytest.approx(_plans(got)[0]["params"], rel=1e-3)


def test_text_output_says_where_the_shape_came_from(cli):
    r = cli("plan", "1e13", "--law", ISOFLOP, "--shape")
    assert r.returncode == 0, r.stderr
    assert "scaling: shape from the fit: attention, context 256, vocab 256; runs counted in 6nd FLOPs" in r.stderr
    assert "shape from the fit" not in r.stdout  # the table is what it was; stdout stays a table / JSON lines


def test_given_flags_win_with_a_note(cli, hyena):
    r = cli(
        "plan", "2e13", "--law", hyena, "--convention", "palm", "--context", "4096", "--mixer", "attention", "--json"
    )
    explicit = cli(
        "plan", "2e13", "--law", hyena, "--convention", "palm", "--json",
        "--context", "4096", "--mixer", "attention", "--vocab", "256",
    )  # fmt: skip
    assert _plans(r) == _plans(explicit)
    err = r.stderr
    assert "scaling: shape from the fit: vocab 256; runs counted in palm FLOPs" in err
    assert "note: --context 4096: the law was fitted at context 1024 (a transfer the fit did not measure)" in err
    assert "note: --mixer attention: the law was fitted at mixer hyena (a transfer the fit did not measure)" in err
    # a given value equal to the record is no transfer
    same = cli("plan", "2e13", "--law", hyena, "--context", "1024")
    assert same.returncode == 0 and "note:" not in same.stderr


def test_a_mixed_record_keeps_the_default_and_says_so(cli, tmp_path):
    fit_path = _fit_copy(
        tmp_path,
        ISOFLOP,
        vocab=256,
        flops_convention="palm",
        mixed={"mixer": ["attention", "hyena"], "context": [256, 1024]},
    )
    r = cli("plan", "1e13", "--law", fit_path, "--convention", "palm", "--json")
    explicit = cli(
        "plan", "1e13", "--law", fit_path, "--convention", "palm", "--json",
        "--mixer", "attention", "--context", str(PLAN_DEFAULTS["context"]), "--vocab", "256",
    )  # fmt: skip
    assert _plans(r) == _plans(explicit)
    assert _fit_lines(r) == [
        "scaling: shape from the fit: vocab 256; mixer mixed in its runs (attention, hyena): attention kept; "
        "context mixed in its runs (256, 1024): 2048 kept; runs counted in palm FLOPs"
    ]
    # a value given for a mixed field says what it stands for
    given = cli("plan", "1e13", "--law", fit_path, "--context", "512")
    assert "note: --context 512 stands for the mixed context of the fit's runs (256, 1024)" in given.stderr
    # a sparsity law's runs differ in sparsity by design: planned at --sparsity (default 0)
    s = cli("plan", "1e13", "--law", SPARSE, "--json")
    assert "sparsity mixed in its runs (0, 0.5, 0.75): 0 kept" in s.stderr
    assert _plans(s) == _plans(cli("plan", "1e13", "--law", SPARSE, "--json", "--sparsity", "0"))


def test_a_recorded_sparsity_plans_sparse_where_the_path_can(cli, tmp_path):
    fit_path = _fit_copy(tmp_path, ISOFLOP, mixer="attention", context=256, vocab=256, sparsity=0.5)
    r = cli("plan", "1e13", "--law", fit_path, "--json")
    assert _plans(r) == _plans(cli("plan", "1e13", "--law", fit_path, "--json", "--sparsity", "0.5"))
    assert "shape from the fit: attention, context 256, vocab 256, 50% sparse" in r.stderr
    dense = cli("plan", "1e13", "--law", fit_path, "--sparsity", "0")
    assert "note: --sparsity (dense): the law was fitted on 50% sparse runs" in dense.stderr
    # data-constrained plans assume a dense model: the record is not applied, and the note says so
    dc = cli("plan", "1e13", "--law", fit_path, "--unique-tokens", "1e8")
    assert dc.returncode == 0, dc.stderr
    assert "the fit's runs were 50% sparse, not applied: data-constrained and inference-aware plans" in dc.stderr


def test_a_hyena_record_is_not_forced_on_a_data_constrained_plan(cli, hyena):
    r = cli("plan", "1e13", "--law", hyena, "--unique-tokens", "1e8")
    assert r.returncode == 0, r.stderr
    assert "shape from the fit: context 1024, vocab 256" in r.stderr
    assert "the fit's runs used hyena, not applied: data-constrained and inference-aware plans" in r.stderr


def test_published_laws_and_law_files_plan_as_before(cli, tmp_path):
    for args in (("1e21", "--law", "epoch-2024", "--shape"), ("1e21", "--shape"), ("1e21", "--law", "all")):
        r = cli("plan", *args)
        assert r.returncode == 0 and r.stderr == "", r.stderr
    a = _plans(cli("plan", "1e21", "--law", "epoch-2024", "--shape", "--json"))[0]["shape"]
    assert (a["mixer"], a["context"], a["vocab"]) == ("attention", 2048, 50257)
    # a fit file from before fits recorded their runs: silent, the defaults
    data = json.loads(open(ISOFLOP).read())
    data.pop("architecture")
    data["version"] = "1"
    old = tmp_path / "old.json"
    old.write_text(json.dumps(data))
    r = cli("plan", "1e13", "--law", str(old), "--json")
    assert r.returncode == 0 and "shape from the fit" not in r.stderr
    assert shape_from_fit(str(old)) == shape_from_fit(None)
    # a file that is no JSON is the law loader's error, as before
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert shape_from_fit(str(bad)).line == ""
    assert cli("plan", "1e13", "--law", str(bad)).returncode != 0


def test_shape_from_fit_api():
    s = shape_from_fit(HYENA, context=2048)
    assert (s.mixer, s.context, s.vocab, s.sparsity) == ("hyena", 2048, 256, None)
    assert s.line == "shape from the fit: hyena, vocab 256; runs counted in palm FLOPs"
    assert s.notes == ("--context 2048: the law was fitted at context 1024 (a transfer the fit did not measure)",)
    assert shape_from_fit("chinchilla-2022") == shape_from_fit(None)
    assert shape_from_fit(None).line == "" and shape_from_fit(None).context == PLAN_DEFAULTS["context"]


# --- Approach 1 fits record their runs' architecture ------------------------------------------------


def _curve_sweep(root, name: str, mixer: str = "hyena", context: int = 64, convention: str = "palm") -> None:
    """Run directories with training curves, losses from a known surface evaluated along each run."""
    E, A, B, alpha, beta = 1.5, 60.0, 40.0, 0.4, 0.35
    for n_layer, d in ((1, 16), (1, 32), (2, 32), (2, 48), (3, 64), (4, 96)):
        rid = f"L{n_layer}-d{d}"
        cfg = RunConfig(
            sweep=name, run_id=rid, n_layer=n_layer, d_model=d, n_head=d // 16, d_ff=4 * d, context=context,
            tokens=4 * context * 4000, batch_size=4, lr=1e-3, seed=0, mixer=mixer, flops_convention=convention,
        )  # fmt: skip
        pc, fpt = cfg.param_counts(), cfg.flops_per_token()
        N = pc["total"]
        steps = np.unique(np.geomspace(10, cfg.steps, 40).astype(int))
        rows = []
        for s in steps:
            D = float(s * 4 * context)
            rows.append(
                {
                    "step": int(s), "tokens": D, "flops": fpt * D, "lr": 1e-3,
                    "train_loss": E + A / N**alpha + B / D**beta, "val_loss": E + A / N**alpha + B / D**beta,
                    "time_s": 0.1 * s,
                }
            )  # fmt: skip
        D = float(cfg.trained_tokens)
        res = RunResult(
            sweep=name, run_id=rid, status="ok", loss=rows[-1]["val_loss"], params=N,
            non_embedding_params=pc["non_embedding"], embedding_params=pc["embedding"], tokens=D,
            steps=cfg.steps, flops=fpt * D, flops_convention=convention, flops_per_token=fpt,
            corpus_fingerprint="sha256:x",
        )  # fmt: skip
        run = store.run_dir(root, name, rid)
        store.write_config(run, cfg)
        store.write_result(run, res)
        store.write_curve(run, rows)


def test_approach1_records_the_architecture_of_its_curves(tmp_path, cli):
    _curve_sweep(tmp_path / "runs", "h")
    curves = store.collect_curves(tmp_path / "runs" / "h", out=tmp_path / "curves.csv")
    assert {"mixer", "context", "vocab", "sparsity", "flops_convention"} <= set(curves.columns)
    res = fit(str(tmp_path / "curves.csv"), method="approach1", select="all")
    assert res.architecture == FitArchitecture(
        mixer="hyena", context=64, vocab=256, sparsity=0.0, flops_convention="palm"
    )
    # the curves' FLOPs are read in their own convention, as Approach 2 reads a runs table's
    assert res.flops_convention == "palm" and not res.has_flag("not_6nd")
    assert math.isfinite(res.params["a"])
    res.save(tmp_path / "a1.json")
    # an allocation plans by its fitted frontier, in its runs' own FLOPs: the mixer is not re-counted
    r = cli("plan", "1e12", "--law", str(tmp_path / "a1.json"), "--json")
    assert "shape from the fit: context 64, vocab 256; runs counted in palm FLOPs" in r.stderr
    assert "the fit's runs used hyena, not applied: an allocation law plans by the frontier fitted" in r.stderr
    law = res.to_law()
    assert _plans(r)[0]["params"] == pytest.approx(float(law.frontier(1e12)[0]), rel=1e-9)
