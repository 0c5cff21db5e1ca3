"""Frame sources: where skeleton frames come from, one :class:`SkeletonFrame` at a time (no Qt).

* :mod:`.frame` — :class:`SkeletonFrame`, the :class:`FrameSource` interface, drawing coordinates;
* :mod:`.files` — NTU ``.skeleton``, Kinetics ``.json``, cognn HDF5 recordings and dataset samples;
* :mod:`.pixels` — videos and cameras, through :class:`cognn.pose.PoseTracker`;
* :mod:`.stream` — network and device streams (URLs, ``/dev/video*``), reopened when lost;
* :mod:`.open` — :func:`open_source` for any of them, :func:`expand_inputs` for folders.
"""
from .files import SequenceSource
from .frame import DEFAULT_FPS, KINETICS_CANVAS, NTU_COLOR_SIZE, NTU_FPS, FrameSource, SkeletonFrame, project_to_canvas
from .open import (
                    DEMO_RECORDING,
                    HDF5_EXTENSIONS,
                    KINETICS_EXTENSIONS,
                    SKELETON_EXTENSIONS,
                    SUPPORTED_EXTENSIONS,
                    VIDEO_EXTENSIONS,
                    SourceSpec,
                    expand_inputs,
                    is_pixel,
                    natural_layout,
                    open_source,
                    source_kind,
                    split_sample,
)
from .pixels import CameraSource, VideoSource
from .stream import (
                    StreamFrame,
                    StreamGap,
                    StreamLostError,
                    StreamOptions,
                    StreamSource,
                    gap_of,
                    is_stream_spec,
                    parse_camera,
                    redact_url,
)

__all__ = ["SkeletonFrame", "FrameSource", "SequenceSource", "VideoSource", "CameraSource", "open_source",
           "expand_inputs", "source_kind", "natural_layout", "is_pixel", "split_sample", "project_to_canvas",
           "SourceSpec", "VIDEO_EXTENSIONS", "SKELETON_EXTENSIONS", "KINETICS_EXTENSIONS", "HDF5_EXTENSIONS",
           "SUPPORTED_EXTENSIONS", "DEMO_RECORDING", "NTU_FPS", "NTU_COLOR_SIZE", "KINETICS_CANVAS", "DEFAULT_FPS"]
# network and device streams (cognn.sources.stream)
__all__ += ["StreamSource", "StreamOptions", "StreamFrame", "StreamGap", "StreamLostError", "gap_of", "parse_camera",
            "is_stream_spec", "redact_url"]
