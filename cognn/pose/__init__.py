"""Pose from pixels: MediaPipe pose landmarks, mapping to NTU-25 / Kinetics-18, person slots, video extraction.

``cognn.pose.mapping`` and ``cognn.pose.slots`` need only numpy; the landmarker and video helpers import MediaPipe and
OpenCV when first used.
"""
from __future__ import annotations

from .landmarker import MODEL_ENV_VAR, PersonPose, PoseEstimator, default_model_path, load_image, resolve_model_path
from .mapping import (KINETICS18_FROM_MP, NTU25_FROM_MP, estimate_root_translation, mediapipe_to_kinetics18,
                      mediapipe_to_ntu25, mp_world_to_ntu_axes, normalize_kinetics, ntu25_visibility)
from .slots import PersonSlots, SlotAssignment, arrange
from .video import extract_skeletons, iter_video_frames, people_to_layout

__all__ = [
    "MODEL_ENV_VAR", "PersonPose", "PoseEstimator", "default_model_path", "load_image", "resolve_model_path",
    "KINETICS18_FROM_MP", "NTU25_FROM_MP", "estimate_root_translation", "mediapipe_to_kinetics18",
    "mediapipe_to_ntu25", "mp_world_to_ntu_axes", "normalize_kinetics", "ntu25_visibility",
    "PersonSlots", "SlotAssignment", "arrange",
    "extract_skeletons", "iter_video_frames", "people_to_layout",
]
