"""`scaling suggest`: writes a sweep spec the runner accepts; bad input is one line."""

import json

import numpy as np
import pandas as pd
import pytest

from scaling.fit.synthetic import isoflop_sweep, simulate_losses
from scaling.laws import get_law
from scaling.sweep.suggest import theta_of


@pytest.fixture
def runs_csv(tmp_path):
    th = theta_of(get_law("epoch-2024"))
    N, D = isoflop_sweep(th, (1e17, 3e17, 1e18))
    L = simulate_losses(th, N, D, 0.005, np.random.default_rng(0))
    path = tmp_path / "runs.csv"
    pd.DataFrame({"name": [f"r{i}" for i in range(len(N))], "N": N, "D": D, "val_loss": L}).to_csv(path, index=False)
    return path


def test_suggest_writes_an_executable_spec(cli, runs_csv, tmp_path):
    out = tmp_path / "next.toml"
    r = cli("suggest", str(runs_csv), "--budget", "1e19", "--target", "1e22", "--out", str(out), "--bootstrap", "40")
    assert r.returncode == 0, r.stderr
    assert "predicted sd of the target" in r.stdout and "wrote" in r.stdout
    from scaling.sweep import load_spec

    spec = load_spec(out)
    assert spec.kind == "list" and spec.name == "next"
    assert sum(6 * run.params * run.tokens for run in spec.runs) <= 1e19 * 1.0001
    assert len(spec.expand()) == len(spec.runs)


def test_suggest_json_and_template(cli, runs_csv, tmp_path):
    template = tmp_path / "t.toml"
    template.write_text(
        'name = "t"\nkind = "isoflop"\nbudgets = [1e12]\nsize_multipliers = [1]\nseeds = [3]\n[model]\ncontext = 64\n'
    )
    out = tmp_path / "n.toml"
    r = cli(
        "suggest",
        str(runs_csv),
        "--budget",
        "1e19",
        "--target",
        "1e22",
        "--objective",
        "loss",
        "--json",
        "--bootstrap",
        "30",
        "--template",
        str(template),
        "--out",
        str(out),
    )
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["objective"] == "loss" and d["runs"]
    from scaling.sweep import load_spec

    spec = load_spec(out)
    assert spec.seeds == [3] and spec.model.context == 64


@pytest.mark.parametrize(
    "args,needle",
    [
        (["--budget", "0"], "zero"),
        (["--budget", "1e19", "--objective", "loss"], "--target"),
        (["--budget", "1e19", "--bootstrap", "2"], "--bootstrap"),
    ],
)
def test_suggest_bad_input_one_line(cli, runs_csv, args, needle):
    r = cli("suggest", str(runs_csv), *args)
    assert r.returncode == 2, r.stderr
    err = r.stderr.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1 and needle in err


def test_suggest_missing_file_and_too_few_runs(cli, tmp_path):
    r = cli("suggest", str(tmp_path / "nope.csv"), "--budget", "1e19")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    small = tmp_path / "small.csv"
    pd.DataFrame({"params": [1e8, 2e8, 4e8], "tokens": [1e9, 1e9, 1e9], "loss": [3.0, 2.9, 2.8]}).to_csv(small)
    r = cli("suggest", str(small), "--budget", "1e19")
    assert r.returncode == 2 and "at least 6 runs" in r.stderr
