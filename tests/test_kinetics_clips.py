"""Floors on real people: the bundled Kinetics-400 ST-GCN (continual, early mode ``exact``) through the whole pixel
pipeline of ``cognn-infer`` (MediaPipe pose, the checkpoint's preprocessing, resampling, steady labels, events) on two
real clips of ../shared/data/video. docs/kinetics.md has the full table these floors come from: the shown label
``clean and jerk`` for 94 % of the clean-and-jerk clip; on the tai-chi clip the regular model itself says
``stretching arm`` (tai chi third), and the continual model shows the same for 92 % of it.
"""
from __future__ import annotations

import json

import pytest
from helpers import shared_data

from cognn.cli.infer import main

pytestmark = pytest.mark.usefixtures("one_thread")  # conftest.py


@pytest.mark.parametrize("clip, label, floor", [("clean_and_jerk.mp4", "clean and jerk", 0.8),
                                                ("ta_chi.mp4", "stretching arm", 0.8)])
def test_kinetics_model_names_the_action_for_most_of_the_clip(clip, label, floor, tmp_path, capsys):
    out = tmp_path / "records.jsonl"
    assert main([str(shared_data("video", clip)), "--weights", "kinetics400", "-o", str(out)]) == 0
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(records) == 300
    shown = sum(r["steady"] == label for r in records) / len(records)
    assert shown >= floor, shown
    assert all(r["model"] == "costgcn_original" and r["weights_trained"] for r in records)
    err = capsys.readouterr().err
    assert f"{clip}: {label} " in err  # the summary names the event


def test_summary_says_when_an_input_ends_during_warm_up(tmp_path, capsys):
    """30 frames of an NTU skeleton file are less than the gesture model needs before its first exact answer: the
    summary says the model was still warming up, and how much input it needs, instead of "no action"."""
    out = tmp_path / "records.jsonl"
    assert main([str(shared_data("ntu", "skeletons", "S001C001P001R001A001.skeleton")), "--weights", "gestures",
                 "--max-frames", "30", "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert ("S001C001P001R001A001.skeleton: no action event: the input ended while the model was still warming up "
            "(it needs ") in err
