"""Pose from pixels: MediaPipe pose landmarks, smoothing, mapping to NTU-25 / Kinetics-18, person slots, and the one
tracker that joins them (:class:`PoseTracker`, used by every pixel path).

``cognn.pose.mapping``, ``cognn.pose.slots`` and ``cognn.pose.smoothing`` need only numpy; the landmarker and video
helpers import MediaPipe and OpenCV when first used.
"""
from __future__ import annotations

from .landmarker import MODEL_ENV_VAR, PersonPose, PoseEstimator, default_model_path, load_image, resolve_model_path
from .mapping import (
                      KINETICS18_FROM_MP,
                      NTU25_FROM_MP,
                      estimate_root_translation,
                      mediapipe_to_domain,
                      mediapipe_to_kinetics18,
                      mediapipe_to_ntu25,
                      mp_world_to_ntu_axes,
                      normalize_kinetics,
                      ntu25_visibility,
                      people_to_domain,
)
from .slots import PersonSlots, SlotAssignment, arrange
from .smoothing import DEFAULT_SMOOTHING, NO_SMOOTHING, LandmarkSmoother, OneEuroFilter, SmoothingConfig
from .tracker import DEFAULT_MAX_SIDE, PoseFrame, PoseOptions, PoseTracker, extract_skeletons
from .video import iter_video_frames, open_video, video_fps

__all__ = [
    "MODEL_ENV_VAR", "PersonPose", "PoseEstimator", "default_model_path", "load_image", "resolve_model_path",
    "KINETICS18_FROM_MP", "NTU25_FROM_MP", "estimate_root_translation", "mediapipe_to_domain",
    "mediapipe_to_kinetics18", "mediapipe_to_ntu25", "mp_world_to_ntu_axes", "normalize_kinetics",
    "ntu25_visibility", "people_to_domain",
    "PersonSlots", "SlotAssignment", "arrange",
    "DEFAULT_SMOOTHING", "NO_SMOOTHING", "LandmarkSmoother", "OneEuroFilter", "SmoothingConfig",
    "DEFAULT_MAX_SIDE", "PoseFrame", "PoseOptions", "PoseTracker", "extract_skeletons",
    "iter_video_frames", "open_video", "video_fps",
]
