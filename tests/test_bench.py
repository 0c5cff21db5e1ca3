"""cognn.flops, cognn.bench and the cognn-bench CLI (quick, tiny configurations: 100-frame windows, few rounds)."""
from __future__ import annotations

import csv
import io
import json

import pytest
import torch

from cognn.bench import ROW_FIELDS
from cognn.cli.bench import main
from cognn.flops import PAPER_GMACS, PAPER_GMACS_KINETICS, analytic_macs, counted_macs, paper_macs
from cognn.models import build

REQUIRED = ("model", "params", "macs_per_prediction", "ms_per_prediction", "ms_p95", "throughput", "peak_mem_mb")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


# -- MAC counting ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["stgcn", "stgcn_mod", "costgcn_mod", "agcn", "agcn_mod", "str", "str_mod",
                                  "costgcn", "coagcn", "coagcn_mod", "costr_mod"])
def test_analytic_macs_within_5_percent_of_table_ii(name):
    got = analytic_macs(build(name))
    assert got == pytest.approx(paper_macs(name), rel=0.05)


@pytest.mark.parametrize("name", sorted(PAPER_GMACS_KINETICS))
def test_analytic_macs_within_5_percent_of_table_v(name):
    """Kinetics-400 (18 joints, 400 classes). Table V charges the strided continual models' convolutions for released
    outputs only (all three: 0.16 / 0.18 / 0.16 G), unlike Table II's CoST-GCN and CoAGCN."""
    model = build(name, num_classes=400, layout="kinetics18")
    taps = "released" if model.spec.continual and not model.spec.mod else "every_frame"
    assert analytic_macs(model, conv_taps=taps) == pytest.approx(paper_macs(name, "kinetics18"), rel=0.05)
    assert paper_macs(name, "kinetics18") == round(PAPER_GMACS_KINETICS[name] * 1e9)


def test_original_stgcn_family_is_counted():
    regular = analytic_macs(build("stgcn_original", num_classes=400, layout="kinetics18"))
    step = analytic_macs(build("costgcn_original_mod", num_classes=400, layout="kinetics18"))
    # the same backbone as the paper's ST-GCN minus the unit residuals: a little below Table V's 12.04 G
    assert 11.0e9 < regular < paper_macs("stgcn", "kinetics18") and 0.09e9 < step < 0.12e9
    counted = counted_macs(build("costgcn_original_mod", num_classes=400, layout="kinetics18"))
    assert counted.macs == pytest.approx(step, rel=0.05)


def test_costr_table_ii_value_matches_only_released_taps():
    # Table II's CoS-TR (0.22 G) fits charging the strided convolutions for released outputs only, unlike
    # CoST-GCN / CoAGCN (0.27 / 0.30 G, every input frame) — the paper is not self-consistent here
    model = build("costr")
    assert analytic_macs(model, conv_taps="released") == pytest.approx(paper_macs("costr"), rel=0.05)
    assert analytic_macs(model, conv_taps="every_frame") > 1.15 * paper_macs("costr")


def test_analytic_rejects_unknown_convention_and_short_window():
    with pytest.raises(ValueError, match="conv_taps"):
        analytic_macs(build("costgcn"), conv_taps="sometimes")
    with pytest.raises(ValueError, match="too short"):
        analytic_macs(build("stgcn_mod"), window=50)


def test_counted_macs_continual_step_vs_regular_window():
    regular = counted_macs(build("stgcn_mod"), window=300)
    model = build("costgcn_mod")
    step = counted_macs(model)
    # one step replaces a 300-frame window: roughly 1/300 of the work (a little more: no shrinking window)
    assert 150 < regular.macs / step.macs < 300
    # torch's counter sees the convolutions and graph products of the clip model...
    assert set(regular.by_op) >= {"aten.convolution", "aten.bmm"}
    assert regular.macs == sum(regular.by_op.values())
    # ...and only matrix products in the BN-folded step path, within 5 % of the paper-convention count
    assert "aten.convolution" not in step.by_op
    assert step.macs == pytest.approx(analytic_macs(model), rel=0.05)
    # the model's own step state and flag are left as they were
    assert model.warm_start is False and model.steps_seen == 0


def test_counted_macs_strided_model_counts_a_full_stride_cycle():
    model = build("costgcn")
    cycle = counted_macs(model)
    assert model.stride == 4
    assert cycle.macs == pytest.approx(analytic_macs(model, conv_taps="released"), rel=0.06)
    assert PAPER_GMACS["costgcn"] * 1e9 > cycle.macs > PAPER_GMACS["costgcn_mod"] * 1e9


# -- the CLI -----------------------------------------------------------------------------------------------------------
TINY = ["--quick", "--window", "100", "--repeats", "1"]


def test_cli_json_has_required_fields(capsys):
    threads = torch.get_num_threads()
    assert main(["--models", "stgcn,costgcn", "--format", "json", *TINY]) == 0
    assert torch.get_num_threads() == threads  # pinned for the run only
    out, err = capsys.readouterr()
    rows = json.loads(out)
    assert [r["model"] for r in rows] == ["stgcn", "costgcn"]
    for r in rows:
        assert set(REQUIRED) <= set(r) and set(r) == set(ROW_FIELDS)
        assert r["params"] == 3141478
        assert r["ms_per_prediction"] > 0 and r["ms_p95"] >= r["ms_per_prediction"]
        assert r["throughput"] > 0 and r["throughput_batch"] == 2
        assert r["peak_mem_mb"] > 5  # at least the 12.6 MB of weights, give or take the allocator
        assert r["threads"] == 1  # the CLI's default on the CPU
    reg, cont = rows
    assert reg["frames_per_prediction"] == 100 and cont["frames_per_prediction"] == 4
    assert reg["macs_per_prediction"] > 20 * cont["macs_per_prediction"]
    assert cont["speedup"] == pytest.approx(reg["ms_per_prediction"] / cont["ms_per_prediction"])
    assert cont["mac_reduction"] > 20 and cont["mem_ratio"] is not None
    assert reg["speedup"] is None
    assert reg["macs_paper"] is None  # not the paper's 300-frame setting
    assert "torch" in err and "1 thread of" in err and "Traceback" not in err
    assert "cognn-bench: [1/" in err and "round 1/1" in err  # not a terminal: progress as plain lines
    # the step variants, timed in the same rounds: one person present, bfloat16, int8 (regular rows have none)
    for key in ("ms_one_person", "one_person_ratio", "ms_bf16", "bf16_speedup", "ms_int8", "int8_speedup"):
        assert cont[key] > 0 and reg[key] is None, key
    assert cont["bf16_speedup"] == pytest.approx(cont["ms_per_prediction"] / cont["ms_bf16"], rel=0.5)


def test_cli_variant_columns_can_be_left_out(capsys):
    assert main(["--models", "costgcn_mod", "--format", "md", "--no-memory", "--precision", "fp32,int8",
                 "--no-one-person", *TINY]) == 0
    lines = capsys.readouterr().out.splitlines()
    row = next(line for line in lines if line.startswith("| CoST-GCN* | ") and "faster" in line)
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[2] == "–" and cells[3] == "–" and "x faster" in cells[4]  # one person and bf16 left out


def test_cli_markdown_table(capsys):
    assert main(["--models", "stgcn,costgcn", "--format", "md", "--no-memory", *TINY]) == 0
    out, _ = capsys.readouterr()
    lines = out.splitlines()
    assert lines[0].startswith("**cognn ") and "torch " in lines[0] and "thread" in lines[0]
    assert any(line.startswith("| ST-GCN | 100 | 3.14 |") for line in lines)
    assert any(line.startswith("| CoST-GCN | 4 | 3.14 |") and "x down)" in line for line in lines)
    assert any(line.startswith("| CoST-GCN vs ST-GCN |") for line in lines)


def test_cli_csv_and_plot(tmp_path, capsys):
    png = tmp_path / "latency.png"
    assert main(["--models", "stgcn,costgcn_mod", "--format", "csv", "--no-memory", "--plot", str(png),
                 "--windows", "50,100", *TINY]) == 0
    out, err = capsys.readouterr()
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["model"] for r in rows] == ["stgcn", "costgcn_mod"]
    assert float(rows[1]["ms_per_prediction"]) > 0 and rows[1]["peak_mem_mb"] == ""
    data = png.read_bytes()
    assert data.startswith(PNG_MAGIC) and len(data) > 5000
    import matplotlib.image

    assert matplotlib.image.imread(str(png)).shape[2] in (3, 4)
    assert "costgcn_mod@50" in err  # a 50-frame window is shorter than CoST-GCN*'s 81-frame backbone


def test_cli_kinetics_layout(capsys):
    assert main(["--models", "costgcn,costgcn_original_mod", "--layout", "kinetics18", "--format", "json",
                 "--no-memory", "--quick", "--repeats", "1"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["model"] for r in rows] == ["costgcn", "costgcn_original_mod"]
    assert rows[0]["macs_paper"] == round(0.16e9) and rows[1]["macs_paper"] is None
    kinetics = build("costgcn", num_classes=400, layout="kinetics18")
    assert rows[0]["params"] == sum(p.numel() for p in kinetics.parameters() if p.requires_grad)
    assert rows[1]["display_name"] == "CoST-GCN* (original)" and rows[1]["frames_per_prediction"] == 1


@pytest.mark.parametrize("argv, message", [
    (["--models", "stgcn,nonsense"], "unknown model 'nonsense'"),
    (["--models", "costgcn", "--plot", "out.jpg"], "--plot must name a .png file"),
    (["--models", "costgcn", "--plot", "/no/such/folder/x.png"], "does not exist"),
    (["--models", "stgcn_mod", "--window", "50"], "at least 81 frames"),
    (["--models", "costgcn", "--repeats", "0"], "expected at least 1"),
    (["--models", "costgcn", "--windows", "50,x"], "comma-separated whole numbers"),
    (["--models", "costgcn", "--precision", "fp16"], "comma-separated list of fp32, bf16, int8"),
])
def test_cli_user_errors_exit_2_without_traceback(argv, message, capsys):
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.strip().splitlines()[-1].startswith("cognn-bench: error: ") and message in err
    assert "Traceback" not in err


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message shown when CUDA is missing")
def test_cli_cuda_without_gpu(capsys):
    assert main(["--models", "costgcn", "--device", "cuda"]) == 2
    assert "no CUDA device" in capsys.readouterr().err
