"""The packages proctor.analysis needs are installed (see conftest.REQUIRED), and the models are in the wheel."""

from __future__ import annotations

from tests.components import require

from .conftest import MISSING


def test_analysis_dependencies_are_installed():
    require(not MISSING, "what proctor.analysis needs", "pip install " + " ".join(MISSING))
    import cv2

    from proctor.analysis import model_paths

    assert int(cv2.__version__.split(".")[0]) == 4  # 5.x has no FaceDetectorYN / FaceRecognizerSF
    paths = model_paths()  # checks both SHA-256 digests
    assert paths.yunet.is_file() and paths.sface.is_file()
