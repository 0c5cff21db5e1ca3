"""A checkpoint converted from the official ST-GCN Kinetics-400 file (``cognn-convert``, no options) runs live as the
bundled ``kinetics400`` made from the same weights: the live defaults (early mode, clip length, label threshold)
belong to the family and layout, not only to the bundled file's metadata."""
from __future__ import annotations

import numpy as np
import pytest
from helpers import shared_data

from cognn.cli.convert import main as convert
from cognn.live.session import LiveConfig, Session
from cognn.models import live_defaults

pytestmark = pytest.mark.usefixtures("one_thread")


def _answers(weights: str, clip: str) -> list[tuple[str, bool, bool, list[str], np.ndarray | None]]:
    session = Session.from_weights(weights, config=LiveConfig())
    out = []
    with session.open(clip) as source:
        for step in session.run(source):
            view = step.persons[0] if step.persons else None
            pred = step.prediction
            top = [t[0] for t in pred.top] if pred is not None and pred.top else []
            out.append((view.shown_label if view else "", bool(pred and pred.ready), bool(pred and pred.exact), top,
                        None if pred is None or pred.probs is None else np.array(pred.probs)))
    session.finish()
    return out


def test_the_family_declares_the_live_defaults_of_its_kinetics_weights():
    d = live_defaults("costgcn_original", "kinetics18")
    assert d["model_kwargs"]["early_mode"] == "exact" and d["live"]["labels"]["threshold"] == 0.15
    assert live_defaults("costgcn_mod", "ntu25") == {"model_kwargs": {}, "live": {}}


def test_a_converted_official_kinetics_file_answers_as_the_bundled_one(tmp_path, capsys):
    """On a 2.5 s clip (76 frames, as Kinetics skeletons) both answer exactly from the first frames, with the same
    labels, tops and probabilities at every frame; the converted file is not stuck "warming up"."""
    official = shared_data("weights", "st_gcn_kinetics400_int8.pt")
    clip = str(shared_data("kinetics", "S004C002P003R001A055_rgb.json"))
    converted = tmp_path / "k.safetensors"
    assert convert([str(official), str(converted)]) == 0, capsys.readouterr().err
    bundled, mine = _answers("kinetics400", clip), _answers(str(converted), clip)
    assert len(bundled) == len(mine) >= 70
    for i, (b, m) in enumerate(zip(bundled, mine)):
        assert b[:4] == m[:4], (i, b[:4], m[:4])
        if b[4] is not None:
            np.testing.assert_allclose(m[4], b[4], rtol=1e-5, atol=1e-6)
    # exact answers (early mode ``exact``: the regular model on the clip so far) from the first frames, not a
    # warm-up that "needs 15.0 s"; the 400-class label threshold of the bundled file
    assert all(m[2] and m[3] for m in mine[1:])
    assert Session.from_weights(str(converted)).labels.threshold == Session.from_weights("kinetics400").labels.threshold
