"""Live use on real videos: frame-rate matching, landmark smoothing, steady labels, events, one label per person,
domains and the mirror option (cognn.live).

Pose runs once per clip on a short segment (module fixtures); the model is the default of weights/manifest.json
(an untrained costgcn_mod when there is none, flagged by the recognizer)."""
from __future__ import annotations

import copy
import warnings

import numpy as np
import pytest
from helpers import shared_data

from cognn.domains import CAMERA3D, IMAGE2D
from cognn.errors import InputFileError
from cognn.live import (
    UNCERTAIN,
    DomainMismatchError,
    Event,
    EventSegmenter,
    LabelConfig,
    PersonRecognizers,
    PersonTracker,
    Resampler,
    SteadyLabeler,
    check_domain,
    events_of_recording,
    label_anchor,
    mirror_draw_px,
    read_events,
    resample_sequence,
    segment_labels,
    write_events,
)
from cognn.live.labels import RAW_LABELS, count_switches
from cognn.live.session import LiveConfig, Session
from cognn.pose import OneEuroFilter, PoseOptions, SmoothingConfig, mediapipe_to_domain
from cognn.pose.landmarks import extract_landmarks, load_landmarks, save_landmarks, to_skeletons
from cognn.sources import SkeletonFrame

WORKOUT = "fanchiang_2-1.mp4"  # 23.98 fps, standing then jumping jacks
WORKOUT_FRAMES = 120  # 5 s
# MediaPipe finds one person in the NTU hugging clips (the bodies overlap); in this office clip (25 fps) a second
# person walks in at frame 59 and out at 78
TWO_PEOPLE = "selinkesler_Office.mp4"
TWO_PEOPLE_START, TWO_PEOPLE_FRAMES = 50, 46


pytestmark = pytest.mark.usefixtures("one_thread")  # conftest.py


@pytest.fixture(scope="module")
def recognizer():
    from cognn.online import OnlineRecognizer

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return OnlineRecognizer.from_weights()


@pytest.fixture(scope="module")
def workout():
    """Raw MediaPipe landmarks of the first 5 s of a real workout clip."""
    return extract_landmarks(shared_data("video", WORKOUT), max_frames=WORKOUT_FRAMES, max_side=640)


@pytest.fixture(scope="module")
def two_people(recognizer):
    """Frames of a real clip with a second person coming and going, through the live pose source (smoothed)."""
    pipe = Session(copy.deepcopy(recognizer), LiveConfig(pose=PoseOptions(max_side=640), persons="single"))
    frames = []
    with pipe.open(shared_data("video", TWO_PEOPLE)) as src:
        src.seek(TWO_PEOPLE_START)
        for frame in src:
            if len(frames) >= 4:
                frame.image = None  # keep a few images for the mirror test only
            frames.append(frame)
            if len(frames) >= TWO_PEOPLE_FRAMES:
                break
    pipe.close()
    return frames


def _frames(skel: np.ndarray, ts: np.ndarray) -> list[SkeletonFrame]:
    return [SkeletonFrame(i, float(t), skel[i], int((np.abs(skel[i]).sum((0, 1)) > 0).sum())) for i, t in
            enumerate(ts)]


def _run(recognizer, frames, config=LiveConfig()):
    """A live run: {model frame (time x fps): (top-1, ready)}, the pipeline and its steps."""
    pipe = Session(copy.deepcopy(recognizer), config)
    out, steps = {}, []
    for f in frames:
        st = pipe.step(f)
        steps.append(st)
        for v in st.model_views:
            if v.prediction.top:
                out[round(v.prediction.timestamp * pipe.fps)] = (v.prediction.top[0][0], v.prediction.ready)
    pipe.finish()
    return out, pipe, steps


@pytest.fixture(scope="module")
def workout_runs(recognizer, workout):
    """The real clip through the live pipeline at its own rate (23.98 fps), half rate (every 2nd frame, timestamps
    kept) and double rate (each frame twice, the copy at the interpolated timestamp)."""
    skel, ts = to_skeletons(workout, smoothing=SmoothingConfig())
    own = _frames(skel, ts)
    double = []
    for i, f in enumerate(own):
        double.append(f)
        nxt = ts[i + 1] if i + 1 < len(ts) else ts[i] + (ts[i] - ts[i - 1])
        double.append(SkeletonFrame(f.index, float((ts[i] + nxt) / 2), f.skeleton.copy(), f.persons))
    # untrained weights (no model in the manifest) give flat probabilities, under any "uncertain" threshold
    config = LiveConfig() if recognizer.has_weights else LiveConfig(labels=LabelConfig(threshold=0.0))
    return {name: _run(recognizer, frames, config) for name, frames in (("own", own), ("half", own[::2]),
                                                                        ("double", double))}


# -- 1. frame-rate matching ------------------------------------------------------------------------------------------

def test_resampler_matches_rates_and_drops_bad_timestamps():
    x = np.ones((3, 25, 2), np.float32)
    r = Resampler(30.0)
    counts = [len(r.push(i / 15.0, x * i, i)) for i in range(11)]
    assert counts == [1] + [2] * 10  # a 15 fps camera: two model frames per input frame
    assert r.push(10 / 15.0, x) == [] and r.push(0.1, x) == [] and r.dropped == 2  # repeated, backwards: no error
    out = r.push(11 / 15.0, x * 11, 11)
    assert [round(f.timestamp * 30) for f in out] == [21, 22]
    np.testing.assert_allclose(out[0].skeleton, x * 10.5)  # linear interpolation between the two frames
    # 60 fps video: every second input frame releases one model frame; ms-rounded 29.97 fps: one each
    _, t60, src60 = resample_sequence(np.ones((120, 3, 25, 2)), np.arange(120) / 60.0)
    assert len(t60) == 60 and list(src60[:4]) == [0, 2, 4, 6]
    _, t30, _ = resample_sequence(np.ones((90, 3, 25, 2)), np.round(np.arange(90) / 29.97, 3))
    assert len(t30) == 90


def test_resampler_never_blends_a_person_with_zeros():
    a = np.zeros((3, 25, 2), np.float32)
    a[..., 0] = 1.0
    b = a.copy()
    b[..., 1] = 2.0  # a second person appears
    r = Resampler(30.0)
    r.push(0.0, a)
    mid = r.push(0.1, b)  # 3 model frames between 0 and 0.1 s
    assert len(mid) == 3
    assert set(np.unique(mid[0].skeleton[..., 1])) == {0.0}  # nearer the first frame: absent
    assert set(np.unique(mid[-1].skeleton[..., 1])) == {2.0}  # at the second: present, never 2/3 of it
    gap = r.push(5.0, a)  # a stalled camera is not filled with 147 frames
    assert len(gap) == 1 and gap[0].timestamp == 5.0


def test_real_clip_at_own_half_and_double_rate_agrees(workout_runs):
    runs = [workout_runs[name][0] for name in ("own", "half", "double")]
    common = sorted(set(runs[0]) & set(runs[1]) & set(runs[2]))
    assert len(common) >= 0.9 * len(runs[0])  # the same model-frame grid at every input rate
    ready = [k for k in common if all(r[k][1] for r in runs)]
    compare = ready if len(ready) >= 30 else common[len(common) // 2:]
    assert len(compare) >= 30
    for other in (runs[1], runs[2]):
        agree = np.mean([runs[0][k][0] == other[k][0] for k in compare])
        assert agree >= 0.75, f"top-1 agrees on only {agree:.0%} of {len(compare)} frames"


# -- 2. smoothing and steady labels ----------------------------------------------------------------------------------

def _jitter(skel: np.ndarray) -> float:
    x = skel[:, :, :, 0].astype(np.float64)
    ok = np.abs(x).sum((1, 2)) > 0
    good = ok[2:] & ok[1:-1] & ok[:-2]
    return float(np.linalg.norm((x[2:] - 2 * x[1:-1] + x[:-2])[good], axis=1).mean())


def test_smoothing_reduces_jitter_on_real_landmarks(workout, tmp_path):
    raw, _ = to_skeletons(workout)
    off, _ = to_skeletons(workout, smoothing=SmoothingConfig(enabled=False))
    smooth, _ = to_skeletons(workout, smoothing=SmoothingConfig())
    np.testing.assert_array_equal(raw, off)  # switchable off
    assert _jitter(smooth) < 0.8 * _jitter(raw)
    stronger, _ = to_skeletons(workout, smoothing=SmoothingConfig(min_cutoff=0.3, beta=0.0))
    assert _jitter(stronger) < _jitter(smooth)  # configurable
    # the replayed landmarks survive a save/load round trip (plain arrays, no pickle)
    back = load_landmarks(save_landmarks(workout, tmp_path / "lm.npz"))
    np.testing.assert_array_equal(back.world, workout.world)
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(InputFileError, match="bad.npz"):
        load_landmarks(tmp_path / "bad.npz")


def test_one_euro_filter_basics():
    rng = np.random.default_rng(0)
    f = OneEuroFilter(min_cutoff=1.0, beta=0.0)
    noisy = 0.01 * rng.standard_normal((300, 33, 3))
    out = np.stack([f(x, i / 30) for i, x in enumerate(noisy)])
    assert out[30:].std() < 0.5 * noisy[30:].std()
    last = out[-1]
    np.testing.assert_array_equal(f(np.ones((33, 3)), 299 / 30), last)  # repeated timestamp: no update
    g = OneEuroFilter(min_cutoff=1.0, beta=50.0)  # fast motion: a high beta follows with little lag
    ramp = [g(np.array([t * 2.0]), t / 30) for t in range(30)]
    assert abs(ramp[-1][0] - 29 * 2.0) < 2.0


def test_steady_labels_hysteresis_and_uncertain():
    classes = ["a", "b", "c"]
    lab = SteadyLabeler(classes, LabelConfig(alpha=1.0, margin=0.1, hold=5, threshold=0.5))
    seq = [[0.8, 0.1, 0.1]] * 10 + [[0.1, 0.8, 0.1]] * 3 + [[0.8, 0.1, 0.1]] * 5  # a 3-frame blip of "b"
    seq += [[0.1, 0.8, 0.1]] * 10 + [[0.34, 0.33, 0.33]] * 10  # "b" for good, then nothing is probable
    labels = [lab.update(np.array(p)).label for p in seq]
    assert labels[4] == "a" and labels[3] == UNCERTAIN  # the first label needs 5 wins too
    assert "b" not in labels[:18]  # the blip is ignored
    assert labels[18 + 4] == "b" and labels[18 + 3] == "a"  # a real change after `hold` frames
    assert labels[-1] == UNCERTAIN and lab.current.uncertain and lab.current.index == -1
    raw = SteadyLabeler(classes, RAW_LABELS)
    assert [raw.update(np.array(p)).label for p in seq][10:13] == ["b"] * 3


def test_steady_labels_switch_less_than_raw_on_a_real_clip(workout_runs):
    _, pipe, steps = workout_runs["own"]
    views = [v for s in steps for v in s.model_views]
    probs = [v.prediction.probs for v in views]
    raw = SteadyLabeler(pipe.classes, RAW_LABELS)
    raw_labels = [raw.update(p).label for p in probs]
    steady_labels = [v.label.label for v in views]
    assert len(probs) > 100
    assert count_switches(steady_labels) <= count_switches(raw_labels)
    again = SteadyLabeler(pipe.classes, pipe.labels)
    assert [again.update(p).label for p in probs] == steady_labels  # the pipeline's labels are the labeler's


# -- 3. events -------------------------------------------------------------------------------------------------------

def test_events_from_a_label_stream(tmp_path):
    stream = ["none"] * 5 + ["wave"] * 30 + [UNCERTAIN] * 3 + ["wave"] * 20 + ["clap"] * 6 + ["squat"] * 40
    items = [(lab, 0.5 + 0.01 * (i % 7), i / 30, 100 + i) for i, lab in enumerate(stream)]
    events = segment_labels(items, min_duration=0.5)
    assert [e.label for e in events] == ["wave", "wave", "squat"]  # "none", "uncertain" and a 0.17 s clap dropped
    wave = events[0]
    assert (wave.start_frame, wave.end_frame) == (105, 134) and wave.start == pytest.approx(5 / 30)
    assert wave.peak_score == pytest.approx(0.56) and wave.person == 0
    merged = segment_labels(items, min_duration=0.5, merge_gap=0.2)
    assert [e.label for e in merged] == ["wave", "squat"] and merged[0].end_frame == 157
    # per person: one person leaving closes only their event
    seg = EventSegmenter(min_duration=0.0)
    for i in range(10):
        seg.update("wave", 0.9, i / 30, i, person=1)
        seg.update("clap", 0.8, i / 30, i, person=2)
    left = seg.end_person(1)
    assert [(e.label, e.person) for e in left] == [("wave", 1)] and list(seg.open_events) == [2]
    # files
    for name in ("ev.jsonl", "ev.csv"):
        path = write_events(tmp_path / name, events)
        assert read_events(path) == [Event(**e.to_dict()) for e in events]
    (tmp_path / "bad.jsonl").write_text('{"label": "wave"}\n')
    with pytest.raises(InputFileError, match=r"bad.jsonl \(line 1\)"):
        read_events(tmp_path / "bad.jsonl")
    with pytest.raises(ValueError, match=".txt"):
        write_events(tmp_path / "ev.txt", events)


def test_events_from_a_real_clip(workout_runs, workout, tmp_path):
    _, pipe, steps = workout_runs["own"]
    cfg, ts = pipe.config, workout.timestamps
    events = pipe.events
    shown = [v.label.label for s in steps for v in s.persons]
    assert any(lab not in cfg.ignore for lab in shown)
    assert events, f"no event in labels {sorted(set(shown))}"
    for a, b in zip(events, events[1:]):
        assert a.end <= b.start  # one person: events do not overlap
    for e in events:
        assert e.label in pipe.classes and e.label not in cfg.ignore
        assert 0 <= e.start <= e.end <= ts[-1] + 1 / pipe.fps and e.duration >= cfg.min_event
        assert 0 <= e.start_frame <= e.end_frame < len(ts) and 0 < e.peak_score <= 1
    path = pipe.write_events(tmp_path / "events.csv")
    assert len(read_events(path)) == len(events)


# -- 4. one label per person -----------------------------------------------------------------------------------------

def test_people_get_separate_states_and_leave(recognizer, two_people):
    frames = two_people
    assert [f.persons for f in frames].count(2) >= 10  # a second person walks in
    people = PersonRecognizers(copy.deepcopy(recognizer), mode="single", max_missed=15)
    first, both = {}, None
    for f in frames:
        out = people.step(f.skeleton, f.timestamp, f.index)
        for p in out:
            first.setdefault(p.person, p)
        if sum(p.present for p in out) == 2 and f.index >= TWO_PEOPLE_START + 15:
            both = out
            recs = [people._recs[p.person] for p in out]
    assert both is not None and len({p.person for p in both}) == 2 and both[0].slots != both[1].slots
    assert recs[0] is not recs[1]  # separate continual states (streams of the one model)
    assert recs[0].steps != recs[1].steps  # the newcomer started later
    assert not np.allclose(both[0].prediction.probs, both[1].prediction.probs)  # each sees only their own skeleton
    newcomer = first[max(first)]
    assert newcomer.prediction.frame > TWO_PEOPLE_START  # walked in during the clip
    assert newcomer.new and not newcomer.prediction.ready and newcomer.prediction.warmup[0] == 1  # warms up visibly
    # everybody leaves: each state is dropped after max_missed frames without the person
    ids, gone = people.ids, []
    empty = SkeletonFrame(frames[-1].index + 1, frames[-1].timestamp, np.zeros_like(frames[0].skeleton), 0)
    for _ in range(16):
        empty.timestamp += 1 / 25
        assert all(not p.present for p in people.step(empty.skeleton, empty.timestamp, empty.index))  # held
        gone += people.left
    assert sorted(gone) == sorted(ids) and people.ids == []
    # someone comes back: a new id and a fresh state
    back = people.step(frames[-1].skeleton, frames[-1].timestamp + 1.0, frames[-1].index)
    assert back and {p.person for p in back}.isdisjoint(first) and all(p.prediction.warmup[0] == 1 for p in back)
    people.reset()  # new source / seek
    assert people.ids == [] and people.tracker.tracks == {}


def test_pair_mode_and_pipeline_per_person(recognizer, two_people):
    pair = PersonRecognizers(copy.deepcopy(recognizer), mode="pair")
    pipe = Session(copy.deepcopy(recognizer), LiveConfig(persons="single"))
    pairs, views = [], None
    for f in two_people:
        out = pair.step(f.skeleton, f.timestamp, f.index)
        st = pipe.step(f)
        if f.persons == 2 and len(st.persons) == 2:
            pairs, views = out, st.persons
    assert len(pairs) == 1 and sorted(pairs[0].slots) == [0, 1]  # two people packed into one state
    assert views is not None and len({v.person for v in views}) == 2
    for v in views:
        assert v.anchor is not None  # a label drawn above each person
        assert v.label.label in pipe.classes + [UNCERTAIN]
        assert "warming up" in v.text() or v.ready
    pipe.reset()  # new source / seek
    assert pipe.people.ids == [] and pipe.segmenter.open_events == {}


def test_person_tracker_keeps_ids_when_slots_swap():
    tr = PersonTracker(CAMERA3D)
    s = np.zeros((3, 25, 2), np.float32)
    s[0, :, 0], s[0, :, 1] = -1.0, 1.0
    first = tr.update(s)
    swapped = tr.update(s[..., ::-1])
    assert first == {0: 0, 1: 1} and swapped == {0: 1, 1: 0}


# -- 5. domains and mirroring ----------------------------------------------------------------------------------------

def test_domain_conversion_and_mismatch_refusal(recognizer, workout):
    person = workout.people(10)[0]
    xyz = mediapipe_to_domain(person, "ntu25", CAMERA3D, workout.width, workout.height)
    img = mediapipe_to_domain(person, "ntu25", IMAGE2D, workout.width, workout.height)
    k18 = mediapipe_to_domain(person, "kinetics18", IMAGE2D, workout.width, workout.height)
    assert xyz.shape == (25, 3) and img.shape == (25, 3) and k18.shape == (18, 3)
    assert 1.0 < xyz[:, 2].mean() < 15.0  # metres in front of the camera
    assert np.abs(img[:, :2]).max() <= 0.6 and (img[:, 2] > 0).all()  # normalised minus 0.5, with a score
    assert xyz[3, 1] > xyz[0, 1] and img[3, 1] < img[0, 1]  # head above the hips: y up in 3-D, down in images
    check_domain(CAMERA3D, CAMERA3D)
    with pytest.raises(DomainMismatchError) as err:
        check_domain(IMAGE2D, CAMERA3D, model="gestures", data="S001.skeleton")
    msg = str(err.value)
    assert msg.count(".") <= 2 and "image2d" in msg and "camera3d" in msg and "gestures" in msg
    # a 2-D model on a real 3-D NTU file, and a 3-D model on a real 2-D Kinetics file, are refused
    two_d = Session(copy.deepcopy(recognizer), domain=IMAGE2D)
    with pytest.raises(DomainMismatchError, match="image2d.*camera3d"):
        two_d.open(shared_data("ntu", "skeletons", "S001C001P001R001A001.skeleton"))
    from cognn.models import build
    from cognn.online import OnlineRecognizer

    k_net = build("costgcn_mod", num_classes=3, layout="kinetics18")
    three_d = Session(OnlineRecognizer(k_net, ["a", "b", "c"], has_weights=False), meta={"domain": CAMERA3D})
    with pytest.raises(DomainMismatchError, match="camera3d.*image2d"):
        three_d.open(shared_data("kinetics", "--33Lscn6sk.json"))


def test_mirror_changes_only_the_drawing(recognizer, two_people):
    frames = [f for f in two_people if f.image is not None]
    assert frames
    width = frames[0].image.shape[1]
    before = [f.skeleton.copy() for f in frames]
    plain = Session(copy.deepcopy(recognizer), LiveConfig())
    mirrored = Session(copy.deepcopy(recognizer), LiveConfig(mirror=True))
    for f, skel in zip(frames, before):
        a, b = plain.step(f), mirrored.step(f)
        np.testing.assert_array_equal(f.skeleton, skel)  # the model input is untouched
        np.testing.assert_array_equal(a.prediction.probs, b.prediction.probs)
        np.testing.assert_array_equal(b.image, f.image[:, ::-1])
        np.testing.assert_allclose(b.draw_px[..., 0], width - f.draw_px[..., 0])
        np.testing.assert_array_equal(b.draw_px[..., 1], f.draw_px[..., 1])
        assert a.image is f.image
    anchor, flipped = label_anchor(frames[0].draw_px, 0), label_anchor(mirror_draw_px(frames[0].draw_px, width), 0)
    assert anchor is not None and flipped[0] == pytest.approx(width - anchor[0], abs=1e-3)


# -- cognn-infer ------------------------------------------------------------------------------------------------------

def test_cognn_infer_writes_events_and_per_person_records(capsys, recognizer, workout, tmp_path):
    import json

    from cognn.cli.infer import main
    from cognn.data.store import RecordingWriter, load_recording

    skel, ts = to_skeletons(workout, smoothing=SmoothingConfig())  # the real workout clip, smoothed as live
    with RecordingWriter(tmp_path / "workout.h5", "ntu25", CAMERA3D, source=WORKOUT, fps=23.98) as w:
        for x, t in zip(skel, ts):
            w.append(x, t)
    events_file = tmp_path / "events.jsonl"
    rc = main([str(tmp_path / "workout.h5"), "--events", str(events_file), "--per-person", "--top-k", "2",
               "--save-skeletons", str(tmp_path / "again.h5"), "-q"])
    out, err = capsys.readouterr()
    assert rc == 0 and "Traceback" not in err
    records = [json.loads(line) for line in out.splitlines()]
    assert records and all({"person", "label", "label_score"} <= set(r) for r in records)
    assert [r["frame"] for r in records if r["person"] == records[0]["person"]] == list(range(len(ts)))
    events = read_events(events_file)
    assert events or not recognizer.has_weights  # untrained weights stay "uncertain": no event
    assert all(e.source.endswith("workout.h5") and e.duration >= LiveConfig().min_event for e in events)
    kept = sorted(events_of_recording(load_recording(tmp_path / "again.h5").events), key=lambda e: (e.start, e.person))
    assert [e.to_dict() for e in events] == [e.to_dict() for e in kept]  # recordings keep the events
    # a wrong events file type is a usage error: one line, exit status 2
    rc = main([str(tmp_path / "workout.h5"), "--events", str(tmp_path / "events.txt")])
    _, err = capsys.readouterr()
    assert rc == 2 and err.strip() == f"cognn-infer: error: --events writes .jsonl or .csv files, not " \
                                      f"{tmp_path / 'events.txt'}"
