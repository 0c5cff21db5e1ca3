"""ONNX export of the continual step: parity with the PyTorch step on real skeleton streams (every family, the early
modes, a clean state half-way, batches of streams at different phases), the precisions, ``cognn-export``, the
torch-free ONNX Runtime backend of ``cognn-infer``, and files cognn did not make refused in one sentence."""
from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import REPO, randomise, shared_data

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

import onnx  # noqa: E402

from cognn.cli.export import main as export_main  # noqa: E402
from cognn.cli.infer import main as infer_main  # noqa: E402
from cognn.data.conventions import AGCN_NTU, STGCN_KINETICS, FramePrep  # noqa: E402
from cognn.export.build import ExportResult, export_model  # noqa: E402
from cognn.export.runtime import OnnxStep  # noqa: E402
from cognn.export.sidecar import sidecar_path  # noqa: E402
from cognn.models import build  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")

#: float32 parity of the exported step with PyTorch's (absolute, on logits)
ATOL = 1e-4
NTU_FILES = ("S001C001P001R001A001.skeleton", "S001C001P001R001A050.skeleton")
KINETICS_FILE = "--33Lscn6sk.json"
#: record fields that are timings (they differ from run to run)
TIMINGS = ("model_ms", "pose_ms", "latency_ms")


# ---------------------------------------------------------------------------------------------------------------------
# real skeleton streams, as the online pipeline feeds them: frames (T, 1, C, V, M)

@pytest.fixture(scope="module")
def ntu_stream() -> np.ndarray:
    """Two NTU RGB+D files one after the other (177 frames: one person, then two people), each normalised as the
    online pipeline does (2s-AGCN convention, reference fixed at its first frame)."""
    from cognn.data.ntu import read_ntu_skeleton, to_array

    frames = []
    for name in NTU_FILES:
        clip = to_array(read_ntu_skeleton(shared_data("ntu", "skeletons", name)))  # (C, T, V, M)
        prep = FramePrep(AGCN_NTU, "ntu25")
        frames += [prep(clip[:, t]) for t in range(clip.shape[1])]
    return np.stack(frames)[:, None].astype(np.float32)


@pytest.fixture(scope="module")
def kinetics_stream() -> np.ndarray:
    """The Kinetics-skeleton JSON of ../shared/data (189 frames, OpenPose-18, x/y/score) in the st-gcn convention."""
    from cognn.data.kinetics import read_kinetics_json, to_frames

    frames, _ = to_frames(read_kinetics_json(shared_data("kinetics", KINETICS_FILE)))
    prep = FramePrep(STGCN_KINETICS, "kinetics18")
    return np.stack([prep(f) for f in frames])[:, None].astype(np.float32)


_MODELS: dict[str, torch.nn.Module] = {}


def small_model(name: str) -> torch.nn.Module:
    """A randomised continual model (every parameter and BatchNorm statistic matters), small enough to be fast: 8
    channels (S-TR's attention needs 32), the shortest receptive field its geometry allows."""
    if name not in _MODELS:
        layout = "kinetics18" if "original" in name else "ntu25"
        clip = 81 if name.endswith("_mod") else 77
        torch.manual_seed(0)
        net = build(name, num_classes=7, layout=layout, base_channels=32 if "str" in name else 8, clip_frames=clip)
        _MODELS[name] = randomise(net, seed=1, calibrate_frames=100)
    return _MODELS[name]


def step_both(model: torch.nn.Module, result: ExportResult, frames: np.ndarray, *, warm: bool,
              reset_at: int | None = None) -> tuple[float, list[int]]:
    """Step ``frames`` through PyTorch and the exported graph from a clean state (both cleaned again at
    ``reset_at``); every step must agree on whether a prediction came and whether it is ready. Returns the largest
    logit difference and the steps that predicted."""
    runner = OnnxStep(model=result.model, description=result.description, warm_start=warm)
    model.warm_start = warm
    model.clean_state()
    worst, predictions = 0.0, []
    with torch.inference_mode():
        for t, frame in enumerate(frames):
            if t == reset_at:
                model.clean_state()
                runner.clean_state()
            y = model.forward_step(torch.from_numpy(frame))
            z = runner.step(frame)
            assert (z is None) == (y is None), f"step {t}: PyTorch {'no ' if y is None else ''}prediction"
            assert runner.ready == model.ready, f"step {t}: ready differs"
            assert runner.steps_seen == model.steps_seen
            if y is not None:
                predictions.append(t)
                worst = max(worst, float(np.abs(y.numpy() - z).max()))
    model.clean_state()
    return worst, predictions


# ---------------------------------------------------------------------------------------------------------------------
# parity, every family, on real streams

CASES = [  # (model, early mode or "cold")
    ("costgcn_original", "cold"), ("costgcn_original", "exact"), ("costgcn_original", "bridged"),
    ("costgcn_original_mod", "cold"), ("costgcn_original_mod", "replicate"),
    ("costgcn", "cold"), ("costgcn", "replicate-prefix"), ("costgcn", "exact"),
    ("costgcn_mod", "cold"), ("costgcn_mod", "replicate"), ("costgcn_mod", "prefix"),
    ("coagcn", "cold"), ("coagcn", "replicate"),
    ("coagcn_mod", "cold"), ("coagcn_mod", "bridged"),
    ("costr", "cold"), ("costr", "replicate"),
    ("costr_mod", "cold"), ("costr_mod", "replicate"),
]


@pytest.mark.parametrize(("name", "mode"), CASES, ids=[f"{n}-{m}" for n, m in CASES])
def test_exported_step_equals_the_pytorch_step_on_a_real_stream(name, mode, ntu_stream, kinetics_stream):
    frames = kinetics_stream if "original" in name else ntu_stream
    model = small_model(name)
    result = export_model(model, early_mode=None if mode == "cold" else mode)
    if mode != "cold":
        model.early_mode = mode
    half = len(frames) // 2
    worst, predictions = step_both(model, result, frames, warm=mode != "cold", reset_at=half)
    # the steps before the first prediction (valid false) and predictions on both sides of the clean state
    assert predictions[0] > 0 or mode in ("replicate", "replicate-prefix", "bridged", "exact")
    assert min(predictions) < half <= max(predictions) and len(predictions) >= 6
    assert worst < ATOL, f"{name} ({mode}): largest logit difference {worst:.3g}"


def test_streams_of_one_batch_at_different_phases(ntu_stream):
    """Three streams in one batch, started at different frames, warm and cold, each equal to its own PyTorch model
    (the graph's per-sample counters; the strided model's exact warm-up flushes fall on different steps)."""
    model = small_model("costgcn")
    model.early_mode = "exact"
    result = export_model(model)
    runner = OnnxStep(model=result.model, description=result.description, batch=3)
    starts, warm = (0, 3, 13), (True, False, True)
    torches = [copy.deepcopy(model) for _ in starts]
    state = runner.initial_state(3)
    flags = state["warm_start"].copy()
    flags[:] = warm
    state["warm_start"] = flags
    fresh = runner.initial_state(1, warm_start=True)
    worst, answers = 0.0, 0
    frames = ntu_stream[:140]
    with torch.inference_mode():
        for t in range(len(frames)):
            batch = np.concatenate([frames[max(t - s, 0)] for s in starts])
            for i, s in enumerate(starts):
                if t == s:  # this stream starts now: its slice of the state is a fresh one
                    torches[i].warm_start = warm[i]
                    torches[i].clean_state()
                    for k in state:
                        state[k] = state[k].copy()
                        state[k][i] = fresh[k][0] if warm[i] else runner.initial_state(1, False)[k][0]
            out = runner.run(batch, state)
            state = out.state
            for i, s in enumerate(starts):
                if t < s:
                    continue
                y = torches[i].forward_step(torch.from_numpy(batch[i:i + 1]))
                assert bool(out.valid[i]) == (y is not None), (t, i)
                assert bool(out.ready[i]) == torches[i].ready, (t, i)
                if y is None:
                    assert not out.logits[i].any()
                else:
                    answers += 1
                    worst = max(worst, float(np.abs(y.numpy()[0] - out.logits[i]).max()))
    assert answers >= 40 and worst < ATOL


def test_a_lockstep_batch_equals_its_streams_one_by_one(ntu_stream):
    """Two streams started together (the fast path: one control flow for the batch), different data."""
    model = small_model("costgcn_mod")
    result = export_model(model, early_mode="replicate")
    pair = OnnxStep(model=result.model, description=result.description, batch=2)
    one = [OnnxStep(model=result.model, description=result.description) for _ in range(2)]
    frames = ntu_stream[:100]
    other = frames[::-1].copy()
    for a, b in zip(frames, other):
        both = pair.step(np.concatenate([a, b]))
        alone = [one[0].step(a), one[1].step(b)]
        np.testing.assert_allclose(both, np.concatenate(alone), atol=1e-5)


# ---------------------------------------------------------------------------------------------------------------------
# precisions

def test_fp16_and_int8_stay_close_to_float32(kinetics_stream):
    """fp16 (float16 weights, float32 arithmetic) and int8 (ONNX Runtime dynamic quantization of the weight
    products) on the strided original model: the same flags as PyTorch at every step, logits close, and smaller
    files; the int8 graph really holds integer products."""
    model = small_model("costgcn_original")
    fp32 = export_model(model, early_mode="replicate")
    model.early_mode = "replicate"
    sizes = {"fp32": len(fp32.model)}
    scale = float(np.abs(model.fc.weight.detach().numpy()).sum(1).max())  # a bound of the logits' size
    for precision, tolerance in (("fp16", 2e-3), ("int8", 5e-2)):
        res = export_model(model, early_mode="replicate", precision=precision)
        sizes[precision] = len(res.model)
        assert res.description["precision"] == precision
        worst, predictions = step_both(model, res, kinetics_stream[:120], warm=True)
        assert len(predictions) > 20 and worst < tolerance * scale, (precision, worst, scale)
    # smaller files (a tiny model has much graph besides weights; kinetics400: 0.52 fp16, 0.33 int8)
    assert sizes["fp16"] < 0.75 * sizes["fp32"] and sizes["int8"] < 0.75 * sizes["fp32"]
    proto = onnx.load_from_string(export_model(model, precision="int8").model)
    ops = {n.op_type for n in proto.graph.node}
    for node in proto.graph.node:
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.GRAPH:
                ops |= {n.op_type for n in attr.g.node}
    assert "MatMulInteger" in ops


# ---------------------------------------------------------------------------------------------------------------------
# what an export holds, and the plain ONNX Runtime loop of docs/onnx.md

def test_description_names_every_state_tensor_and_matches_the_graph(tmp_path):
    model = small_model("costgcn")
    result = export_model(model, classes=[f"c{i}" for i in range(7)], meta={"domain": "camera3d", "fps": 30.0})
    desc = result.description
    proto = onnx.load_from_string(result.model)
    inputs = [i.name for i in proto.graph.input]
    outputs = [o.name for o in proto.graph.output]
    assert inputs == ["frame"] + [f"state.{s['name']}" for s in desc["state"]]
    assert outputs == ["logits", "valid", "ready"] + [f"next.{s['name']}" for s in desc["state"]]
    assert json.loads(proto.metadata_props[0].value) == desc
    assert desc["classes"] == [f"c{i}" for i in range(7)] and desc["meta"]["domain"] == "camera3d"
    for key in ("receptive_field", "delay", "stride"):
        assert desc[key] == getattr(model, key)
    names = {s["name"] for s in desc["state"]}
    assert {"layer1.ring", "layer2.residual", "layer10.count", "pool", "pool.count", "steps", "warm_start"} <= names
    assert "layer1.residual" not in names  # the first block has no residual
    for s in desc["state"]:
        assert s["bytes_per_stream"] == int(np.prod(s["shape"][1:])) * {"float32": 4, "int64": 8, "bool": 1}[s["dtype"]]
        assert s["what"]
    assert desc["state_bytes_per_stream"] == sum(s["bytes_per_stream"] for s in desc["state"])
    # dynamic batch: the first dimension of every input is symbolic
    assert all(i.type.tensor_type.shape.dim[0].dim_param == "N" for i in proto.graph.input)


def test_the_plain_onnxruntime_loop_in_the_docs_runs(tmp_path, monkeypatch, ntu_stream):
    """The Python block of docs/onnx.md, as it is, on an exported model named as it names it: its state loop gives
    the PyTorch step's predictions."""
    text = (REPO / "docs" / "onnx.md").read_text(encoding="utf-8")
    block = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    model = small_model("costgcn_mod")
    model.early_mode = "replicate"
    from cognn.export.build import write_step

    write_step(export_model(model), tmp_path / "k.onnx")
    monkeypatch.chdir(tmp_path)
    frames = ntu_stream[:90]
    scope = {"frames": [f[0] for f in frames]}
    exec(compile(block, "docs/onnx.md", "exec"), scope)  # noqa: S102
    model.warm_start = True
    model.clean_state()
    with torch.inference_mode():
        expected = [model.forward_step(torch.from_numpy(f)) for f in frames]
    got = scope["predictions"]
    assert len(got) == len(expected)
    for y, z in zip(expected, got):
        assert (y is None) == (z is None)
        if y is not None:
            np.testing.assert_allclose(z, y.numpy()[0], atol=ATOL)
    assert "torch" not in block


# ---------------------------------------------------------------------------------------------------------------------
# cognn-export and cognn-infer --backend onnx

@pytest.fixture(scope="module")
def small_checkpoint(tmp_path_factory) -> Path:
    """A regular ST-GCN* checkpoint (random weights, 6 named classes, 84-frame window) in cognn's format."""
    from cognn.checkpoints import save_checkpoint

    torch.manual_seed(0)
    reg = build("stgcn_mod", num_classes=6, base_channels=8)
    randomise(reg, seed=2, calibrate_frames=84)
    co = build("costgcn_mod", num_classes=6, base_channels=8, clip_frames=84)
    co.load_state_dict(reg.state_dict())
    path = tmp_path_factory.mktemp("ckpt") / "small_costgcn_mod.safetensors"
    return save_checkpoint(path, co, {"classes": ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot"],
                                      "domain": "camera3d", "fps": 30.0})


def infer(capsys, *args: str) -> tuple[int, list[dict], str]:
    rc = infer_main([str(a) for a in args])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return rc, [json.loads(line) for line in out.splitlines()], err


def same_records(a: list[dict], b: list[dict], atol: float = 1e-4) -> None:
    """Labels, flags and every field equal; scores to ``atol``; timings aside."""
    assert len(a) == len(b) and a
    for x, y in zip(a, b):
        for key in x:
            if key in TIMINGS:
                continue
            if key == "top":
                assert [t["label"] for t in x["top"]] == [t["label"] for t in y["top"]], x["frame"]
                np.testing.assert_allclose([t["score"] for t in x["top"]], [t["score"] for t in y["top"]],
                                           atol=atol)
            elif key == "label_score" and x[key] is not None:
                assert abs(x[key] - y[key]) <= atol
            else:
                assert x[key] == y[key], (key, x["frame"])


def test_export_cli_writes_graph_and_sidecar_and_infer_backends_agree(capsys, small_checkpoint, tmp_path):
    """A regular checkpoint exported as its continual twin; cognn-infer gives the same records on both backends,
    also with one state per person (the ONNX state swapped between people) on a two-person NTU file."""
    out = tmp_path / "small.onnx"
    assert export_main([str(small_checkpoint), str(out), "--model", "costgcn_mod"]) == 0
    err = capsys.readouterr().err
    assert "wrote" in err and "checked against PyTorch" in err and "flags equal" in err
    desc = json.loads(sidecar_path(out).read_text())
    assert desc["model"] == "costgcn_mod" and desc["classes"][0] == "alpha"
    assert not list(tmp_path.glob(".*partial*"))
    two = shared_data("ntu", "skeletons", "S001C001P001R001A050.skeleton")
    for extra in ([], ["--per-person"]):
        rc, torch_records, _ = infer(capsys, two, "--weights", small_checkpoint, "--top-k", "3", *extra)
        assert rc == 0
        rc, onnx_records, err = infer(capsys, two, "--backend", "onnx", "--weights", out, "--top-k", "3", *extra)
        assert rc == 0 and "ONNX Runtime" in err
        same_records(torch_records, onnx_records)
    assert all(r["top"] for r in onnx_records) and {r["person"] for r in onnx_records} == {0, 1}


def test_torch_backend_precision_option(capsys, small_checkpoint):
    src = shared_data("ntu", "skeletons", "S001C001P001R001A001.skeleton")
    for precision in ("bf16", "int8"):
        rc, records, err = infer(capsys, src, "--weights", small_checkpoint, "--precision", precision,
                                 "--max-frames", "4")
        assert rc == 0 and len(records) == 4 and f"{precision} products" in err


@pytest.mark.parametrize("problem", ["foreign", "garbage", "sidecar-classes", "sidecar-shape", "checkpoint",
                                     "no-weights", "precision"])
def test_bad_onnx_inputs_are_refused_in_one_sentence(capsys, tmp_path, small_checkpoint, problem):
    good = tmp_path / "good.onnx"
    from cognn.export.build import write_step

    result = export_model(small_model("costgcn_mod"), early_mode="replicate")
    write_step(result, good)
    path, extra = tmp_path / f"{problem}.onnx", []
    if problem == "foreign":  # a valid ONNX model cognn did not make
        x = onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1])
        y = onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1])
        graph = onnx.helper.make_graph([onnx.helper.make_node("Identity", ["x"], ["y"])], "g", [x], [y])
        onnx.save(onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 17)]), str(path))
        expect = "not a step graph made by cognn-export"
    elif problem == "garbage":
        path.write_bytes(b"\x00not an onnx model" * 10)
        expect = "not a readable ONNX model"
    elif problem == "sidecar-classes":  # the graph's own description and the sidecar disagree
        path.write_bytes(good.read_bytes())
        desc = json.loads(sidecar_path(good).read_text())
        desc["classes"][0] = "something else"
        sidecar_path(path).write_text(json.dumps(desc))
        expect = "disagrees with"
    elif problem == "sidecar-shape":  # no metadata in the graph; the sidecar declares another state shape
        proto = onnx.load(str(good))
        del proto.metadata_props[:]
        onnx.save(proto, str(path))
        desc = json.loads(sidecar_path(good).read_text())
        desc["state"][0]["shape"][-1] += 1
        sidecar_path(path).write_text(json.dumps(desc))
        expect = "but its description says"
    elif problem == "checkpoint":
        path = small_checkpoint
        expect = "is not an ONNX step graph"
    elif problem == "no-weights":
        path = None
        expect = "--backend onnx needs --weights"
    else:
        path, extra = good, ["--precision", "bf16"]
        expect = "keeps its export precision"
    src = shared_data("ntu", "skeletons", "S001C001P001R001A001.skeleton")
    args = [src, "--backend", "onnx", "--max-frames", "2", *extra] + ([] if path is None else ["--weights", path])
    rc, records, err = infer(capsys, *args)
    lines = [line for line in err.splitlines() if line.strip()]
    assert rc == 2 and not records and len(lines) == 1, err
    assert expect in lines[0]
    if path is not None and problem != "sidecar-classes":
        assert path.name in lines[0]


def test_export_cli_refuses_bad_arguments_in_one_sentence(capsys, tmp_path, small_checkpoint):
    cases = [([str(small_checkpoint), str(tmp_path / "out.txt")], "must be an .onnx file"),
             ([str(small_checkpoint), str(tmp_path / "missing" / "out.onnx")], "does not exist"),
             ([str(tmp_path / "nothing.safetensors"), str(tmp_path / "o.onnx")], "nothing.safetensors"),
             ([str(small_checkpoint), str(tmp_path / "o.onnx"), "--model", "coagcn_mod"], "another network family")]
    for args, expect in cases:
        assert export_main(args) == 2
        err = capsys.readouterr().err
        assert "Traceback" not in err and expect in err and len(err.strip().splitlines()) == 1, err
    assert not list(tmp_path.glob("*.onnx*"))


_NO_TORCH = """
import sys
class NoTorch:
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("torch is blocked: the onnx backend must not import it")
sys.meta_path.insert(0, NoTorch())
from cognn.cli.infer import main
code = main(sys.argv[1:])
assert not any(m == "torch" or m.startswith("torch.") for m in sys.modules), "torch was imported"
sys.exit(code)
"""


@pytest.mark.slow
def test_kinetics400_onnx_backend_on_a_video_gives_the_torch_records_without_torch(capsys, tmp_path):
    """The issue's acceptance: cognn-export kinetics400 k.onnx, then cognn-infer CLIP --backend onnx --weights
    k.onnx (in a process where torch cannot be imported) gives the torch backend's records."""
    clip = shared_data("video", "S004C002P003R001A055_rgb.avi")
    onnx_path = tmp_path / "k.onnx"
    assert export_main(["kinetics400", str(onnx_path), "--quiet"]) == 0
    common = [str(clip), "--max-frames", "45", "--top-k", "5", "--workers", "1"]
    rc, torch_records, _ = infer(capsys, *common, "--weights", "kinetics400")
    assert rc == 0
    proc = subprocess.run([sys.executable, "-c", _NO_TORCH, *common, "--backend", "onnx", "--weights",
                           str(onnx_path)], capture_output=True, text=True, timeout=300, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    onnx_records = [json.loads(line) for line in proc.stdout.splitlines()]
    same_records(torch_records, onnx_records)
    assert any(not r["held"] for r in onnx_records) and all(r["weights_trained"] for r in onnx_records)


def test_bench_times_the_onnx_step_beside_the_torch_step(capsys):
    from cognn.bench import ROW_FIELDS
    from cognn.cli.bench import main as bench_main

    assert bench_main(["--models", "costgcn_mod", "--format", "json", "--no-memory", "--onnx", "--precision", "fp32",
                       "--no-one-person", "--repeats", "1", "--quick", "--window", "81"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert list(rows[0]) == list(ROW_FIELDS)
    row = rows[0]
    assert row["ms_onnx"] > 0 and row["onnx_ratio"] == pytest.approx(row["ms_onnx"] / row["ms_per_prediction"])
    assert row["onnxruntime"]


def test_the_app_runs_an_exported_step(tmp_path):
    """cognn-app's model worker loads a .onnx step (the weights dialog or --weights) in ONNX Runtime."""
    pytest.importorskip("PyQt6")
    from cognn_app.messages import ModelRequest
    from cognn_app.stepper import build_session

    from cognn.export.build import write_step

    path, _ = write_step(export_model(small_model("costgcn_mod"), early_mode="replicate"), tmp_path / "s.onnx")
    session = build_session(ModelRequest(weights=str(path)))
    assert session.recognizer.backend == "onnx" and "ONNX Runtime" in session.description
    session.close()
