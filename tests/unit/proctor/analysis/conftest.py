"""Fixtures: real photos from scikit-image as BGR frames (see images.py)."""

from __future__ import annotations

import numpy as np
import pytest
from skimage import data

from .images import rgb_to_bgr, webcam_face


@pytest.fixture(scope="session")
def face_frame() -> np.ndarray:
    return webcam_face()


@pytest.fixture(scope="session")
def cameraman() -> np.ndarray:
    """A man in 3/4 profile looking into a camera's viewfinder."""
    return rgb_to_bgr(data.camera())


@pytest.fixture(scope="session")
def non_faces() -> dict[str, np.ndarray]:
    return {name: rgb_to_bgr(getattr(data, name)()) for name in ("coffee", "chelsea", "rocket", "page")}


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)
