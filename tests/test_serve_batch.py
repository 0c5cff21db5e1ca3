"""cognn-serve's batching: many streams stepped as one batch answer exactly what each stream gets alone.

Real recordings (the shared NTU .skeleton files and the Kinetics-skeleton file), the bundled models; streams join,
skip ticks and leave at different times, so the batches change composition and the streams' phases differ.
"""
from __future__ import annotations

import threading
from dataclasses import replace

import numpy as np
import pytest
import torch
from helpers import shared_data

pytestmark = pytest.mark.usefixtures("one_thread")


def _ntu_frames() -> list[list]:
    from cognn.sources import open_source

    files = sorted(shared_data("ntu", "skeletons").glob("*.skeleton"))
    out = []
    for f in files:
        with open_source(str(f), layout="ntu25", num_persons=2) as src:
            out.append(list(src))
    return out


def _people(frame) -> list:
    return [frame.skeleton[:, :, m].T.tolist() for m in range(frame.skeleton.shape[2])]


@pytest.mark.slow
def test_64_streams_batched_equal_their_single_stream_runs() -> None:
    """64 gesture streams with staggered starts, skipped ticks and departures, through the server's sessions and the
    batcher's threads: every answer equals the same frames' answer of a session of its own (float32 precision)."""
    from cognn.live.records import make_records
    from cognn.live.session import Session
    from cognn.serve.protocol import Hello
    from cognn.serve.streams import Capacity, ModelHost, ServeStream

    clips = _ntu_frames()
    host = ModelHost("gestures")
    rng = np.random.default_rng(0)
    n = 64
    plans = []
    for i in range(n):
        clip = clips[i % len(clips)]
        offset = int(rng.integers(0, 20))
        length = int(rng.integers(8, 30))
        plans.append((int(rng.integers(0, 24)), clip[offset:offset + length]))  # (first round, frames)
    answers: list[list[dict]] = [[] for _ in range(n)]
    cap = Capacity(100000)
    streams: list[ServeStream | None] = [None] * n
    done = [threading.Semaphore(0) for _ in range(n)]

    def sender(i: int):
        def send(msg: dict) -> None:
            answers[i].append(msg)
            done[i].release()
        return send

    fed = [0] * n
    for r in range(60):
        due = []
        hold = host.batcher.hold()
        hold.__enter__()
        for i, (start, frames) in enumerate(plans):
            if r < start or fed[i] >= len(frames) or (r + i) % 5 == 0:  # not yet, gone, or skipping this tick
                continue
            if streams[i] is None:
                streams[i] = ServeStream(host, Hello("gestures", "skeleton"), sender(i), capacity=cap, queue=64,
                                         name=f"s{i}")
                streams[i]._rate = float("inf")
            s = streams[i]
            f = frames[fed[i]]
            s.put(s.frame(_people(f), f.timestamp, fed[i]), fed[i])
            fed[i] += 1
            due.append(i)
        hold.__exit__(None, None, None)
        for i in due:  # the round's frames answered before the next round: joins and leaves between batches
            assert done[i].acquire(timeout=120)
        for i, (_, frames) in enumerate(plans):
            if streams[i] is not None and fed[i] == len(frames) and streams[i]._thread.is_alive():
                streams[i].finish()  # the stream leaves
    assert all(fed[i] == len(p[1]) for i, p in enumerate(plans))
    stats = host.batched.stats
    assert stats.largest > 16 and stats.restacks > 0  # real batches, rebuilt as streams came and went

    alone = Session.from_weights("gestures")
    worst = 0.0
    for i, (_, frames) in enumerate(plans):
        alone.start(f"s{i}")
        got = answers[i]
        assert [a["type"] for a in got] == ["answer"] * len(frames)
        for k, f in enumerate(frames):
            ref = make_records(alone.step(replace(f, index=k)), f"s{i}", alone.model_name, True)[0]
            a = got[k]
            assert a["seq"] == k and a["frame"] == ref["frame"] and a["dropped"] == 0
            for key in ("ready", "held", "label", "steady", "reps", "persons"):
                assert a[key] == ref[key], (i, k, key, a[key], ref[key])
            mine = {t["label"]: t["score"] for t in a["top"]}
            theirs = {t["label"]: t["score"] for t in ref["top"]}
            for label in set(mine) & set(theirs):
                worst = max(worst, abs(mine[label] - theirs[label]))
            assert abs(a["label_score"] - ref["label_score"]) < 2e-5
    assert worst < 2e-5, worst


def test_another_family_batched_equals_alone() -> None:
    """The bundled Kinetics model (the original ST-GCN: strided, padded, 18 joints): streams at different phases of
    its stride, stepped through step_many, give each stream's own logits."""
    from cognn.online import OnlineRecognizer
    from cognn.serve.batch import BatchedModel
    from cognn.sources import open_source

    path = shared_data("kinetics", "--33Lscn6sk.json")
    rec = OnlineRecognizer.from_weights("kinetics")
    with open_source(str(path), layout="kinetics18", num_persons=rec.model.num_persons) as src:
        clip = [torch.from_numpy(rec._stream.prep(np.asarray(f.skeleton, np.float32)).copy())[None] for f in src]
    net = rec.model
    bm = BatchedModel(net)
    n, rounds = 6, 24
    streams = [bm.stream() for _ in range(n)]
    plan = [(i * 3 % 7, 10 + 2 * i) for i in range(n)]  # (first round, frames)
    outs: list[list] = [[] for _ in range(n)]
    for r in range(rounds):
        items, who = [], []
        for i, (start, length) in enumerate(plan):
            k = len(outs[i])
            if r >= start and k < length and (r * (i + 1)) % 4 != 1:
                items.append((streams[i], clip[(5 * i + k) % len(clip)]))
                who.append(i)
        for i, y in zip(who, bm.step_many(items)):
            outs[i].append(y)
    assert bm.stats.largest > 1
    worst = 0.0
    with torch.inference_mode():
        for i in range(n):
            net.clean_state()
            for k, y in enumerate(outs[i]):
                ref = net.forward_step(clip[(5 * i + k) % len(clip)])
                assert (y is None) == (ref is None), (i, k)
                if y is not None:
                    worst = max(worst, float((y - ref).abs().max()))
    assert worst < 1e-4, worst


@pytest.mark.parametrize("mode", ["prefix", "exact", "bridged"])
def test_early_modes_batched_equal_alone(mode: str) -> None:
    """Every early mode of warm start keeps its answers when batched (a bridged warm-up steps alone until its second
    stream ends): a small random CoAGCN (strided), streams joining at different frames."""
    from helpers import randomise

    from cognn.models import build
    from cognn.serve.batch import BatchedModel

    net = randomise(build("coagcn", num_classes=5, base_channels=8, clip_frames=80, warm_start=True, early_mode=mode))
    g = torch.Generator().manual_seed(3)
    data = [torch.randn(30, 1, 3, 25, 2, generator=g) for _ in range(5)]
    for d in data:
        d[..., 1] = 0  # a blank second slot, as a one-person stream has
    bm = BatchedModel(net)
    streams = [bm.stream() for _ in data]
    outs: list[list] = [[] for _ in data]
    for r in range(40):
        items, who = [], []
        for i in range(len(data)):
            if r >= 2 * i and len(outs[i]) < len(data[i]) and (r + i) % 3:
                items.append((streams[i], data[i][len(outs[i])]))
                who.append(i)
        for i, y in zip(who, bm.step_many(items)):
            outs[i].append(y)
    with torch.inference_mode():
        for i in range(len(data)):
            net.clean_state()
            for k, y in enumerate(outs[i]):
                ref = net.forward_step(data[i][k])
                assert (y is None) == (ref is None), (i, k)
                if y is not None:
                    assert torch.allclose(y, ref, atol=1e-5), (i, k, float((y - ref).abs().max()))


def test_a_failing_stream_never_stalls_the_batches() -> None:
    """A stream whose answers cannot be delivered (its connection gone) ends; the streams beside it keep being
    answered (the batch never waits for the dead one)."""
    from cognn.serve.protocol import Hello
    from cognn.serve.streams import Capacity, ModelHost, ServeStream

    clip = _ntu_frames()[0][:12]
    host = ModelHost("gestures")

    def broken(_: dict) -> None:
        raise RuntimeError("the connection is gone")

    got: list[dict] = []
    done = threading.Semaphore(0)

    def ok(msg: dict) -> None:
        got.append(msg)
        done.release()

    cap = Capacity(1000)
    dead = ServeStream(host, Hello("gestures", "skeleton"), broken, capacity=cap, name="dead")
    alive = ServeStream(host, Hello("gestures", "skeleton"), ok, capacity=cap, name="alive")
    for k, f in enumerate(clip):
        with host.batcher.hold():
            for s in (dead, alive):
                s.put(s.frame(_people(f), f.timestamp, k), k)
        assert done.acquire(timeout=120), f"frame {k} not answered"
    dead.join(10)
    assert not dead._thread.is_alive() and [a["seq"] for a in got] == list(range(len(clip)))
    alive.close()
