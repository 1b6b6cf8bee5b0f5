"""`scaling flops` from the command line: numbers, JSON contract, one-line errors."""

import json

import pytest

from scaling.cli import main
from scaling.flops import flops_per_token, param_counts

GPT355 = ["flops", "--n-layer", "24", "--d-model", "1024", "--context", "2048", "--vocab", "50257"]


def test_table_with_tokens(capsys):
    assert main(GPT355 + ["--tokens", "15.7e9", "--convention", "chinchilla"]) == 0
    out = capsys.readouterr().out
    assert "24 x 1024" in out and "non-embedding" in out
    assert "353,503,232" in out  # total parameters
    assert "chinchilla *" in out and "4.774e+19" in out  # Hyena paper Table 4.4: GPT-355M 4.77e19
    for conv in ("6nd", "kaplan", "palm"):
        assert conv in out


def test_json_contract(capsys):
    assert main(GPT355 + ["--tokens", "15.7B", "--convention", "chinchilla", "--json"]) == 0
    obj = json.loads(capsys.readouterr().out)
    pc = param_counts(24, 1024, 50257)
    assert obj["params"]["total"] == pc["total"] and obj["params"]["non_embedding"] == pc["non_embedding"]
    fpt = float(flops_per_token(24, 1024, 2048, 50257, convention="chinchilla"))
    assert obj["convention"] == "chinchilla"
    assert obj["flops_per_token"] == pytest.approx(fpt)
    assert obj["tokens"] == 15.7e9 and obj["flops"] == pytest.approx(fpt * 15.7e9)
    assert obj["flops"] == pytest.approx(4.77e19, rel=0.03)
    assert set(obj["by_convention"]) == {"6nd", "kaplan", "chinchilla", "palm"}
    assert obj["by_convention"]["6nd"]["flops_per_token"] == pytest.approx(6 * pc["total"])
    assert obj["shape"]["n_head"] == 16 and obj["shape"]["d_ff"] == 4096


def test_hyena_reproduces_table_4_4(capsys):
    assert (
        main(
            [
                "flops",
                "--mixer",
                "hyena",
                "--n-layer",
                "36",
                "--d-model",
                "1024",
                "--d-ff",
                "2048",
                "--tokens",
                "15.7e9",
                "--convention",
                "chinchilla",
                "--json",
            ]
        )
        == 0
    )
    obj = json.loads(capsys.readouterr().out)
    assert obj["flops"] == pytest.approx(3.93e19, rel=0.03)
    assert obj["shape"]["mixer"] == "hyena"
    assert (
        main(
            [
                "flops",
                "--mixer",
                "hyena",
                "--n-layer",
                "18",
                "--d-model",
                "864",
                "--d-ff",
                "1728",
                "--tokens",
                "15.7e9",
                "--convention",
                "chinchilla",
                "--json",
            ]
        )
        == 0
    )
    assert json.loads(capsys.readouterr().out)["flops"] == pytest.approx(1.87e19, rel=0.03)
    # a longer context costs Hyena little
    assert (
        main(
            [
                "flops",
                "--mixer",
                "hyena",
                "--n-layer",
                "24",
                "--d-model",
                "1024",
                "--context",
                "8192",
                "--convention",
                "chinchilla",
                "--fft-constant",
                "6",
                "--json",
            ]
        )
        == 0
    )
    hy = json.loads(capsys.readouterr().out)["flops_per_token"]
    assert hy == pytest.approx(
        float(flops_per_token(24, 1024, 8192, 50257, convention="chinchilla", mixer="hyena", hyena={"fft_constant": 6}))
    )


def test_sparsity_and_switches(capsys):
    assert main(GPT355 + ["--sparsity", "0.75", "--json"]) == 0
    obj = json.loads(capsys.readouterr().out)
    assert obj["params"]["nonzero"] < obj["params"]["total"]
    nonzero = param_counts(24, 1024, 50257, sparsity=0.75)["nonzero"]
    assert obj["flops_per_token"] == pytest.approx(6 * nonzero, rel=1e-6)
    assert "sparsity_convention" in obj
    assert main(GPT355 + ["--convention", "chinchilla", "--no-embeddings", "--causal", "--json"]) == 0
    obj = json.loads(capsys.readouterr().out)
    assert obj["flops_per_token"] == pytest.approx(
        float(flops_per_token(24, 1024, 2048, 50257, convention="chinchilla", include_embeddings=False, causal=True))
    )
    assert main(GPT355 + ["--sparsity", "0.5"]) == 0
    assert "non-zero" in capsys.readouterr().out


def test_subprocess_table(cli_subprocess):
    r = cli_subprocess("flops", "--n-layer", "12", "--d-model", "768", "--tokens", "1e9")
    assert r.returncode == 0, r.stderr
    assert "12 x 768" in r.stdout and "FLOPs (run)" in r.stdout


@pytest.mark.parametrize(
    "args,needle",
    [
        (["flops", "--n-layer", "0", "--d-model", "1024"], "--n-layer"),
        (["flops", "--n-layer", "2.5", "--d-model", "1024"], "--n-layer"),
        (["flops", "--n-layer", "24"], "--d-model"),
        (["flops", "--n-layer", "24", "--d-model", "1024", "--tokens", "lots"], "--tokens"),
        (["flops", "--n-layer", "24", "--d-model", "1024", "--tokens", "nan"], "--tokens"),
        (["flops", "--n-layer", "24", "--d-model", "1024", "--tokens", "-5"], "--tokens"),
        (["flops", "--n-layer", "24", "--d-model", "1000", "--n-head", "7"], "not divisible"),
        (["flops", "--n-layer", "24", "--d-model", "1024", "--sparsity", "1"], "--sparsity"),
        (["flops", "--n-layer", "24", "--d-model", "1024", "--convention", "chinchila"], "invalid choice"),
        (["flops", "--n-layer", "24", "--d-model", "1024", "--mixer", "mamba"], "invalid choice"),
        (["flops", "--n-layer", "24", "--d-model", "1024", "--fft-constant", "5"], "--mixer hyena"),
    ],
)
def test_bad_input_one_line_exit_2(cli, args, needle):
    r = cli(*args)
    assert r.returncode == 2, (r.stdout, r.stderr)
    err = r.stderr.strip()
    assert "Traceback" not in err
    assert len(err.splitlines()) == 1, err
    assert needle in err
