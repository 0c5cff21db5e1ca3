"""Running an exported step graph with ONNX Runtime alone: numpy in, numpy out, no torch.

:class:`OnnxStep` loads a graph written by ``cognn-export`` (refusing, in one sentence, a file cognn did not make or
whose description disagrees with its graph), keeps the state of one batch of streams and steps it. It has the
step-facing attributes of a continual model (``num_classes``, ``layout``, ``receptive_field``, ``delay``,
``warm_start``, ``ready``, ``steps_seen``, ``clean_state``, ``get_state``/``set_state``), so
:class:`cognn.online.OnlineRecognizer` runs it in place of the PyTorch model. :meth:`OnnxStep.run` is the stateless
form: frame and state in, outputs and the next state out.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import CognnError, InputFileError
from ..layouts import Layout, get_layout
from .sidecar import METADATA_KEY, check_io, read_description

__all__ = ["OnnxStep", "StepOutput", "threads_from_env"]

_DTYPES = {"float32": np.float32, "int64": np.int64, "bool": np.bool_}


def threads_from_env() -> int:
    """ONNX Runtime's intra-op threads: ``COGNN_THREADS`` (default 1, as the torch path)."""
    value = os.environ.get("COGNN_THREADS", "").strip()
    try:
        return max(1, int(value)) if value else 1
    except ValueError:
        raise CognnError(f"COGNN_THREADS must be a positive integer, not {value!r}") from None


class StepOutput:
    """What one step of a batch gives: ``logits`` ``(N, K)`` (zeros where not ``valid``), ``valid`` and ``ready``
    ``(N,)`` and the next ``state``."""

    __slots__ = ("logits", "valid", "ready", "state")

    def __init__(self, logits: np.ndarray, valid: np.ndarray, ready: np.ndarray, state: dict[str, np.ndarray]) -> None:
        self.logits = logits
        self.valid = valid
        self.ready = ready
        self.state = state


def _session(source: str | bytes, threads: int) -> Any:
    try:
        import onnxruntime as ort
    except ImportError:
        from . import ONNX_EXTRA_HINT

        raise CognnError(f"running an ONNX step needs onnxruntime, which is not installed: {ONNX_EXTRA_HINT}") from None
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3
    return ort.InferenceSession(source, sess_options=opts, providers=["CPUExecutionProvider"])


class OnnxStep:
    """A cognn step graph in ONNX Runtime with the state of ``batch`` streams (see the module docstring).

    Give ``path`` (the sidecar ``path.json`` is read if present, else the file's metadata), or ``model`` bytes with
    their ``description``. ``threads``: ONNX Runtime's intra-op threads (default: :func:`threads_from_env`).
    """

    def __init__(self, path: str | os.PathLike | None = None, *, model: bytes | None = None,
                 description: dict[str, Any] | None = None, threads: int | None = None, warm_start: bool = True,
                 batch: int = 1) -> None:
        if (path is None) == (model is None):
            raise ValueError("give either a path or model bytes")
        self.path = Path(path) if path is not None else Path("<in memory>")
        source: str | bytes
        if path is not None:
            if not self.path.is_file():
                raise InputFileError(self.path, "does not exist or is not a file")
            source = str(self.path)
        else:
            source = model  # type: ignore[assignment]
        try:
            self.session = _session(source, threads or threads_from_env())
        except CognnError:
            raise
        except Exception as e:  # onnxruntime's own errors (invalid protobuf, unknown operators...)
            first = (str(e).strip().splitlines() or [type(e).__name__])[0]
            raise InputFileError(self.path, f"is not a readable ONNX model ({first[:160]})") from None
        meta = dict(self.session.get_modelmeta().custom_metadata_map)
        if description is None:
            description = read_description(self.path, meta)
        elif METADATA_KEY in meta and json.loads(meta[METADATA_KEY]).get("state") != description.get("state"):
            raise InputFileError(self.path, "its description disagrees with its graph's metadata on the state")
        self.description = description
        check_io(self.path, description,
                 {a.name: (a.type, list(a.shape)) for a in self.session.get_inputs()},
                 {a.name: (a.type, list(a.shape)) for a in self.session.get_outputs()})
        d = description
        #: the model's registered name, e.g. ``costgcn_original``
        self.name: str = str(d["model"])
        self.display_name: str = str(d.get("display_name") or d["model"])
        self.num_classes: int = int(d["num_classes"])
        self.in_channels: int = int(d["in_channels"])
        self.num_persons: int = int(d["num_persons"])
        self.layout: Layout = get_layout(d["layout"])
        self.receptive_field: int = int(d["receptive_field"])
        self.delay: int = int(d["delay"])
        self.stride: int = int(d["stride"])
        self.early_mode: str = str(d["early_mode"])
        self.precision: str = str(d["precision"])
        self.classes: list[str] = [str(c) for c in d["classes"]]
        #: the checkpoint's metadata (domain, preprocessing, fps, live settings...)
        self.meta: dict[str, Any] = dict(d.get("meta") or {})
        self.checkpoint_meta = self.meta
        self._state_names = [s["name"] for s in d["state"]]
        self._outputs = ["logits", "valid", "ready"] + [f"next.{n}" for n in self._state_names]
        self._warm = bool(warm_start)
        self._batch = int(batch)
        self._ready = np.zeros(self._batch, bool)
        self._values: dict[str, Any] = {}  # the state as ONNX Runtime values (fed back without conversion)
        self.clean_state()

    @classmethod
    def load(cls, path: str | os.PathLike, *, threads: int | None = None, warm_start: bool = True) -> OnnxStep:
        """The step graph at ``path`` (checked against its description)."""
        return cls(path, threads=threads, warm_start=warm_start)

    # -- state ---------------------------------------------------------------------------------------------------------
    def initial_state(self, batch: int = 1, warm_start: bool | None = None) -> dict[str, np.ndarray]:
        """The state of ``batch`` fresh streams (the description's cold or warm start values)."""
        warm = self._warm if warm_start is None else bool(warm_start)
        out: dict[str, np.ndarray] = {}
        for s in self.description["state"]:
            shape = [batch] + [int(d) for d in s["shape"][1:]]
            out[s["name"]] = np.full(shape, s["warm"] if warm else s["cold"], dtype=_DTYPES[s["dtype"]])
        return out

    @property
    def warm_start(self) -> bool:
        """Whether streams answer before the receptive field is full (from the next :meth:`clean_state` on, and for
        the current stream at once)."""
        return self._warm

    @warm_start.setter
    def warm_start(self, on: bool) -> None:
        self._warm = bool(on)
        if "warm_start" in self._values:
            state = self.state
            state["warm_start"] = np.full_like(state["warm_start"], self._warm)
            self.state = state

    @property
    def state(self) -> dict[str, np.ndarray]:
        """The state of the streams kept here, as numpy arrays (a copy; assign to replace it)."""
        return {n: v.numpy() for n, v in self._values.items()}

    @state.setter
    def state(self, state: dict[str, np.ndarray]) -> None:
        from onnxruntime import OrtValue

        self._values = {n: OrtValue.ortvalue_from_numpy(np.ascontiguousarray(state[n])) for n in self._state_names}

    def clean_state(self) -> None:
        """Forget every frame (a new source, a seek)."""
        self.state = self.initial_state(self._batch)
        self._ready = np.zeros(self._batch, bool)

    def get_state(self, copy: bool = True) -> dict[str, Any]:
        """The step state (restore it with :meth:`set_state`); its values are never changed in place, so ``copy``
        makes no difference."""
        return {"values": dict(self._values), "ready": self._ready.copy()}

    def set_state(self, state: dict[str, Any]) -> None:
        self._values = dict(state["values"])
        self._ready = np.asarray(state["ready"], bool).copy()
        self._batch = int(self._ready.shape[0])

    @property
    def steps_seen(self) -> int:
        """Frames fed to the first stream since :meth:`clean_state`."""
        return int(self._values["steps"].numpy()[0])

    @property
    def ready(self) -> bool:
        """True when the first stream's latest prediction is exact."""
        return bool(self._ready[0])

    # -- stepping ------------------------------------------------------------------------------------------------------
    def run(self, frame: np.ndarray, state: dict[str, np.ndarray]) -> StepOutput:
        """One step of a batch: ``frame`` ``(N, C, V, M)`` and the state of ``N`` streams in; nothing kept here."""
        feed = {"frame": np.ascontiguousarray(frame, dtype=np.float32)}
        feed.update({f"state.{n}": state[n] for n in self._state_names})
        res = self.session.run(self._outputs, feed)
        new = dict(zip(self._state_names, res[3:]))
        return StepOutput(res[0], res[1], res[2], new)

    def step(self, frame: np.ndarray) -> np.ndarray | None:
        """Feed one frame ``(N, C, V, M)`` to the streams kept here; logits ``(N, K)`` when the first stream
        released a prediction, else None (as ``forward_step``)."""
        from onnxruntime import OrtValue

        feed = {"frame": OrtValue.ortvalue_from_numpy(np.ascontiguousarray(frame, dtype=np.float32))}
        feed.update({f"state.{n}": v for n, v in self._values.items()})
        res = self.session.run_with_ort_values(self._outputs, feed)
        self._values = dict(zip(self._state_names, res[3:]))
        self._ready = res[2].numpy()
        return res[0].numpy() if bool(res[1].numpy()[0]) else None
