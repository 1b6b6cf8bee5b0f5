"""Loading runs tables: column mapping, derivations, filters, and one-line errors with row numbers."""

import numpy as np
import pandas as pd
import pytest

from scaling.errors import ScalingError
from scaling.runs import (
    RunsWarning,
    data_fingerprint,
    data_info,
    describe_runs,
    format_description,
    load_curves,
    load_runs,
    require_sizes,
)


def write(tmp_path, text, name="runs.csv"):
    p = tmp_path / name
    p.write_text(text)
    return p


GOOD = """run_id,params,tokens,loss,dataset
a,1e7,2e8,4.1,x
b,1e8,2e9,3.5,x
c,1e9,2e10,2.9,y
"""


def one_line(exc) -> str:
    msg = str(exc.value)
    assert "\n" not in msg
    return msg


def test_basic_load_canonical_columns(tmp_path):
    df = load_runs(write(tmp_path, GOOD))
    assert list(df.columns[:5]) == ["run_id", "params", "tokens", "flops", "loss"]
    assert "dataset" in df.columns
    np.testing.assert_allclose(df["flops"], 6 * df["params"] * df["tokens"])
    assert list(df.index) == [1, 2, 3]
    assert df.attrs["scaling"]["columns"]["params"] == "params"


def test_empty_file(tmp_path):
    with pytest.raises(ScalingError) as e:
        load_runs(write(tmp_path, ""))
    assert "empty" in one_line(e)


def test_header_only(tmp_path):
    with pytest.raises(ScalingError) as e:
        load_runs(write(tmp_path, "params,tokens,loss\n"))
    assert "no runs" in one_line(e)


def test_one_run(tmp_path):
    with pytest.raises(ScalingError) as e:
        load_runs(write(tmp_path, "params,tokens,loss\n1e8,2e9,3.3\n"))
    msg = one_line(e)
    assert "only 1 run" in msg and "at least 2" in msg


def test_all_runs_one_size(tmp_path):
    df = load_runs(write(tmp_path, "params,tokens,loss\n1e8,1e9,3.6\n1e8,2e9,3.4\n1e8,4e9,3.3\n"))
    with pytest.raises(ScalingError) as e:
        require_sizes(df, 2, "Approach 3")
    msg = one_line(e)
    assert "same size" in msg and "Approach 3" in msg
    assert require_sizes(load_runs(write(tmp_path, GOOD, "g.csv")), 3) == 3


@pytest.mark.parametrize(
    "value,expect",
    [
        ("-3.2", "-3.2; it must be positive"),
        ("", "NaN"),
        ("nan", "NaN"),
        ("inf", "infinite"),
        ("0", "0; it must be positive"),
    ],
)
def test_bad_loss_names_row(tmp_path, value, expect):
    text = GOOD.replace("b,1e8,2e9,3.5,x", f"b,1e8,2e9,{value},x")
    with pytest.raises(ScalingError) as e:
        load_runs(write(tmp_path, text))
    msg = one_line(e)
    assert "row 2 (line 3)" in msg and "loss" in msg and expect in msg


def test_bad_params_string(tmp_path):
    with pytest.raises(ScalingError) as e:
        load_runs(write(tmp_path, GOOD.replace("1e8,2e9", "12x,2e9")))
    msg = one_line(e)
    assert "row 2" in msg and "'12x'" in msg and "params" in msg


def test_missing_column_suggests(tmp_path):
    text = "Model Size,tokens,loss\n70M,1e9,3.9\n160M,2e9,3.5\n"
    with pytest.raises(ScalingError) as e:
        load_runs(write(tmp_path, text), params_col="Model Sise")
    msg = one_line(e)
    assert "'Model Sise'" in msg and "did you mean 'Model Size'" in msg and "available" in msg


def test_missing_loss_column_lists_available(tmp_path):
    with pytest.raises(ScalingError) as e:
        load_runs(write(tmp_path, "params,tokens,score\n1e7,1e8,1\n1e8,1e9,2\n"))
    msg = one_line(e)
    assert "no loss column" in msg and "'score'" in msg and "loss_col" in msg


def test_no_tokens_and_no_flops(tmp_path):
    with pytest.raises(ScalingError) as e:
        load_runs(write(tmp_path, "params,loss\n1e7,4\n1e8,3\n"))
    assert "tokens" in one_line(e)


def test_duplicated_run_id(tmp_path):
    text = GOOD + "b,1e8,4e9,3.4,x\n"
    with pytest.raises(ScalingError) as e:
        load_runs(write(tmp_path, text))
    msg = one_line(e)
    assert "duplicated run" in msg and "'b'" in msg and "rows 2, 4" in msg


def test_exact_duplicate_row(tmp_path):
    text = "params,tokens,loss\n1e7,1e8,4.0\n1e8,1e9,3.2\n1e7,1e8,4.0\n"
    with pytest.raises(ScalingError) as e:
        load_runs(write(tmp_path, text))
    assert "row 3 (line 4) duplicates row 1" in one_line(e)


def test_replicates_with_seeds_allowed(tmp_path):
    text = "params,tokens,loss,seed\n1e7,1e8,4.0,0\n1e7,1e8,4.02,1\n1e8,1e9,3.2,0\n"
    df = load_runs(write(tmp_path, text))
    assert len(df) == 3


def test_params_col_model_size_with_suffixes(tmp_path):
    text = "Model Size,Tokens Seen,final loss\n70M,1.4B,3.9\n2.8B,56B,2.6\n410m,8.2e9,3.1\n"
    df = load_runs(write(tmp_path, text), params_col="Model Size", tokens_col="Tokens Seen", loss_col="final loss")
    np.testing.assert_allclose(df["params"], [70e6, 2.8e9, 410e6])
    np.testing.assert_allclose(df["tokens"], [1.4e9, 56e9, 8.2e9])
    assert df.attrs["scaling"]["columns"] == {"params": "Model Size", "loss": "final loss", "tokens": "Tokens Seen"}


def test_auto_detect_model_size(tmp_path):
    df = load_runs(write(tmp_path, "Model Size,D,val_loss\n70M,1.4B,3.9\n160M,3.2B,3.5\n"))
    np.testing.assert_allclose(df["params"], [70e6, 160e6])
    np.testing.assert_allclose(df["loss"], [3.9, 3.5])


def test_tokens_derived_from_flops_warns(tmp_path):
    text = "N,C,loss\n1e8,6e17,3.5\n1e9,1.2e19,2.9\n"
    with pytest.warns(RunsWarning, match=r"D = C / \(6 N\)"):
        df = load_runs(write(tmp_path, text))
    np.testing.assert_allclose(df["tokens"], [1e9, 2e9])
    assert any("derived" in n for n in df.attrs["scaling"]["notes"])


def test_where_filter_and_bad_where(tmp_path):
    df = load_runs(write(tmp_path, GOOD + "d,3e9,6e10,2.6,y\n"), where="dataset == 'y'")
    assert list(df["run_id"]) == ["c", "d"] and list(df.index) == [3, 4]
    df = load_runs(write(tmp_path, GOOD, "g.csv"), where="params > 5e7")
    assert len(df) == 2
    with pytest.raises(ScalingError) as e:
        load_runs(write(tmp_path, GOOD, "h.csv"), where="datset == 'y'")
    msg = one_line(e)
    assert "--where \"datset == 'y'\"" in msg and "dataset" in msg
    with pytest.raises(ScalingError) as e:
        load_runs(write(tmp_path, GOOD, "i.csv"), where="dataset == 'z'")
    assert "no runs left after filters" in one_line(e)


def test_where_excludes_bad_rows_before_validation(tmp_path):
    text = GOOD + "d,1e8,1e9,,broken\n"
    df = load_runs(write(tmp_path, text), where="dataset != 'broken'")
    assert len(df) == 3


def test_min_max_flops(tmp_path):
    df = load_runs(write(tmp_path, GOOD), min_flops="1e18")
    assert list(df["run_id"]) == ["b", "c"]
    df = load_runs(write(tmp_path, GOOD, "g.csv"), max_flops=1.3e18)
    assert list(df["run_id"]) == ["a", "b"]
    assert any("flops" in f for f in df.attrs["scaling"]["filters"])


def test_failed_runs_dropped_with_note(tmp_path):
    text = "run_id,params,tokens,loss,status\na,1e7,1e8,4.0,ok\nb,1e8,1e9,,diverged\nc,1e9,1e10,2.9,done\n"
    with pytest.warns(RunsWarning, match="failed"):
        df = load_runs(write(tmp_path, text))
    assert list(df["run_id"]) == ["a", "c"]
    assert "dropped 1 failed" in df.attrs["scaling"]["notes"][0]


def test_dataframe_and_parquet_sources(tmp_path):
    raw = pd.DataFrame({"params": [1e7, 1e8], "tokens": [1e8, 1e9], "loss": [4.0, 3.2], "arch": ["a", "b"]})
    df = load_runs(raw)
    assert list(df.index) == [1, 2] and df.attrs["scaling"]["source"] == "<DataFrame>"
    pytest.importorskip("pyarrow")
    raw.to_parquet(tmp_path / "r.parquet")
    df2 = load_runs(tmp_path / "r.parquet")
    assert data_fingerprint(df) == data_fingerprint(df2)


def test_jsonl_source(tmp_path):
    p = write(
        tmp_path,
        '{"params": 1e7, "tokens": 1e8, "loss": 4.0}\n{"params": 1e8, "tokens": 1e9, "loss": 3.2}\n',
        "runs.jsonl",
    )
    assert len(load_runs(p)) == 2


def test_missing_file():
    with pytest.raises(ScalingError) as e:
        load_runs("/nonexistent/runs.csv")
    assert "not found" in one_line(e)


def test_fingerprint_order_invariant_and_sensitive(tmp_path):
    df = load_runs(write(tmp_path, GOOD))
    fp = data_fingerprint(df)
    assert len(fp) == 64
    assert data_fingerprint(df.iloc[::-1]) == fp
    df2 = df.copy()
    df2.loc[2, "loss"] = 3.5000001
    assert data_fingerprint(df2) != fp
    assert data_fingerprint(df.iloc[:2]) != fp
    info = data_info(df)
    assert info["n_rows"] == 3 and info["fingerprint"] == fp and info["flops_range"][0] == pytest.approx(1.2e16)


def test_describe_runs(tmp_path):
    d = describe_runs(load_runs(write(tmp_path, GOOD)))
    assert d["n_runs"] == 3 and d["n_sizes"] == 3
    assert d["params"]["min"] == 1e7 and d["tokens_per_param"]["median"] == pytest.approx(20)
    assert "3 runs" in format_description(d)


# -- training curves -------------------------------------------------------------------------------


def test_load_curves_steps(tmp_path):
    text = "run,params,step,loss\nr1,1e7,100,5.0\nr1,1e7,200,4.5\nr2,1e8,100,4.8\nr2,1e8,200,4.1\n"
    with pytest.raises(ScalingError, match="tokens_per_step"):
        load_curves(write(tmp_path, text))
    c = load_curves(write(tmp_path, text, "c.csv"), tokens_per_step=1024)
    np.testing.assert_allclose(c["tokens"], [102400, 204800] * 2)
    np.testing.assert_allclose(c["flops"], 6 * c["params"] * c["tokens"])


def test_load_curves_opt(public_data):
    path = public_data / "ibm_colpret" / "aggregated_eval_opt_trajectories.csv"
    with pytest.warns(RunsWarning, match="log10"):
        c = load_curves(path)
    assert c["run_id"].nunique() == 6
    assert set(c["params"]) == {125e6, 1.3e9, 6.7e9, 13e9, 30e9, 175e9}
    np.testing.assert_allclose(c["flops"], 6 * c["params"] * c["tokens"], rtol=1e-3)
    raw = pd.read_csv(path)
    np.testing.assert_allclose(np.sort(c["loss"]), np.sort(np.log(raw["ppl"])))


def test_shared_gadre_defaults(public_data):
    df = load_runs(public_data / "gadre2024" / "gadre2024_final_losses.csv", where="dataset == 'rpj'")
    cols = df.attrs["scaling"]["columns"]
    assert cols["params"] == "N" and cols["loss"] == "loss_c4_val" and cols["tokens"] == "D"
    assert len(df) == 35
