"""Input domains: what the numbers in a skeleton's channel axis mean.

Every checkpoint declares the domain it was trained on; the online pipeline converts pose output to it and refuses a
mismatched pair (a 2-D model on 3-D data or the reverse).
"""
from __future__ import annotations

#: x, y, z in metres in the Kinect camera convention of NTU RGB+D (y up, z away from the sensor)
CAMERA3D = "camera3d"
#: x, y image coordinates normalised to [0, 1] minus 0.5 and a confidence score (Kinetics-skeleton / OpenPose)
IMAGE2D = "image2d"

DOMAINS = {
    CAMERA3D: "3-D joint positions in metres, Kinect camera space (NTU RGB+D)",
    IMAGE2D: "2-D normalised image coordinates with confidence (Kinetics-skeleton)",
}

#: the domain each layout's datasets use
LAYOUT_DOMAIN = {"ntu25": CAMERA3D, "kinetics18": IMAGE2D}


def check_domain(domain: str) -> str:
    """Return ``domain`` if known, else raise a ValueError that lists the known ones."""
    if domain not in DOMAINS:
        raise ValueError(f"unknown input domain {domain!r}; known: {', '.join(DOMAINS)}")
    return domain
