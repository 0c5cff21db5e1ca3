"""The bundled fitness model on real clips of the shared folder, through cognn-infer as a user runs it (real
MediaPipe on the real videos): floors on the label shown, the repetitions and the fall alarm (docs/fitness.md has the
whole table, made by tools/eval_fitness.py). Also: its live defaults and model card."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from cognn.checkpoints import read_checkpoint
from cognn.weights import resolve_weights

REPO = Path(__file__).resolve().parents[1]
REAL = REPO.parent / "shared" / "data" / "video" / "real"
needs_real = pytest.mark.skipif(not REAL.is_dir(), reason="../shared/data/video/real (the real clips) is absent")

CLASSES = ["none", "squat", "push_up", "lunge", "sit_up", "jumping_jack", "high_knees", "burpee", "bicep_curl",
           "lateral_raise", "front_raise", "plank", "fall", "sit_down", "stand_up", "wave", "clap", "walk"]


def test_fitness_is_bundled_with_its_classes_live_defaults_and_model_card():
    path = resolve_weights("fitness")
    meta = read_checkpoint(path).meta
    assert meta["classes"] == CLASSES
    alarms = meta["live"]["alarms"]
    assert alarms["alarm"] == ["fall"] and alarms["hold"] == ["plank"]
    assert set(alarms["repetitive"]) >= {"squat", "push_up", "jumping_jack", "bicep_curl"}
    clips = meta["training_clips"]
    assert len(clips) >= 29 and all(c["licence"] and c["source"] for c in clips)
    assert {c["clip"].split("/")[-1] for c in clips} >= {p.name for p in REAL.rglob("*.mp4")} if REAL.is_dir() \
        else True
    assert meta["model"] == "costgcn_original" and meta["model_kwargs"]["clip_frames"] == 80


def _infer(tmp_path, video: Path, capfd) -> tuple[str, list[dict], list[dict]]:
    from cognn.cli.infer import main

    out, events = tmp_path / "r.jsonl", tmp_path / "e.jsonl"
    assert main([str(video), "--weights", "fitness", "-o", str(out), "--events", str(events)]) == 0
    err = capfd.readouterr().err
    recs = [json.loads(line) for line in out.read_text().splitlines()]
    evs = [json.loads(line) for line in events.read_text().splitlines()] if events.exists() else []
    return err, recs, evs


@needs_real
@pytest.mark.slow
def test_squats_are_named_and_counted(tmp_path, capfd):
    err, recs, evs = _infer(tmp_path, REAL / "squat" / "Nowva__squats.mp4", capfd)
    assert "squat ×5" in err, err
    shown = [r["label"] for r in recs]
    assert shown.count("squat") > 0.5 * len(shown)
    assert not any(e["label"] == "fall" for e in evs)


@needs_real
@pytest.mark.slow
def test_a_fall_raises_one_alarm_event(tmp_path, capfd):
    _, recs, evs = _infer(tmp_path, REAL / "fall" / "fall-detector__Fall01.mp4", capfd)
    falls = [e for e in evs if e["label"] == "fall"]
    assert len(falls) == 1 and falls[0]["alarm"] is True


def test_the_body_alone_raises_the_fall_alarm():
    """``by_body``: a fall seen in the body (a stick figure the model never saw) is an alarm event, once, whatever
    the model's probability of ``fall``; the floor exercises keep it from raising one alone."""
    import numpy as np
    from helpers import stick_body

    from cognn.live.session import LiveConfig, Session
    from cognn.sources import SkeletonFrame

    session = Session.from_weights(resolve_weights("fitness"), config=LiveConfig())
    assert "fall" in session.alarm_policy.by_body and "push_up" in session.alarm_policy.by_body["fall"]
    bodies = ([stick_body(0.0)] * 60 + [stick_body(a, hip_drop=0.45 * a / 85) for a in np.linspace(0, 85, 20)]
              + [stick_body(85.0, hip_drop=0.45)] * 90)
    session.start("stick-fall")
    alarms = []
    for i, b in enumerate(bodies):
        s = np.zeros((3, 18, 2), np.float32)
        s[..., 0] = b
        step = session.step(SkeletonFrame(i, i / 30.0, s, 1))
        alarms += [e for e in step.events if e.label == "fall"]
    session.finish()
    assert len(alarms) == 1 and alarms[0].alarm
