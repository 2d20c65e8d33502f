"""SFace matching: same person matches, different people do not, the quality gate, the windowed median decision."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from proctor.analysis import (
    MATCH_THRESHOLD,
    MISMATCH_THRESHOLD,
    IdentityWindow,
    cosine_similarity,
    decide,
    extract_embedding,
)

from .images import LFW_OTHER_PEOPLE, LFW_SAME_PERSON, bgr_to_i420, lfw_face


def _webcam_variant(frame: np.ndarray) -> np.ndarray:
    """The same person under another camera: smaller, shifted, rotated 6 degrees, darker, JPEG-compressed."""
    h, w = frame.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), 6, 0.8)
    m[:, 2] += (30, 10)
    moved = cv2.warpAffine(frame, m, (w, h), borderMode=cv2.BORDER_REPLICATE)
    darker = cv2.convertScaleAbs(moved, alpha=0.75, beta=5)
    ok, jpg = cv2.imencode(".jpg", darker, [cv2.IMWRITE_JPEG_QUALITY, 50])
    assert ok
    return cv2.imdecode(jpg, cv2.IMREAD_COLOR)


@pytest.fixture(scope="module")
def lfw_embeddings():
    out = {}
    for i in (*LFW_SAME_PERSON, *LFW_OTHER_PEOPLE):
        emb = extract_embedding(lfw_face(i))
        assert emb is not None, f"lfw {i}: no face"
        out[i] = emb
    return out


def test_reference_face_passes_the_quality_gate(face_frame):
    emb = extract_embedding(face_frame)
    assert emb is not None
    assert emb.quality.ok, emb.quality.problems
    assert emb.vector.shape == (128,)
    assert np.linalg.norm(emb.vector) == pytest.approx(1.0, abs=1e-4)


def test_same_person_through_another_camera_matches(face_frame):
    a = extract_embedding(face_frame)
    b = extract_embedding(_webcam_variant(face_frame))
    assert a is not None and b is not None and b.quality.ok
    assert cosine_similarity(a.vector, b.vector) > 0.6


def test_i420_input_embeds_like_bgr(face_frame):
    a = extract_embedding(face_frame)
    b = extract_embedding(bgr_to_i420(face_frame), "yuv420p")
    assert cosine_similarity(a.vector, b.vector) > 0.9


def test_same_person_in_lfw_matches(lfw_embeddings):
    for a in LFW_SAME_PERSON:
        for b in LFW_SAME_PERSON:
            if a < b:
                sim = cosine_similarity(lfw_embeddings[a].vector, lfw_embeddings[b].vector)
                assert sim >= MATCH_THRESHOLD, (a, b, sim)


def test_different_people_do_not_match(lfw_embeddings, face_frame, cameraman):
    ref = lfw_embeddings[LFW_SAME_PERSON[0]].vector
    for other in LFW_OTHER_PEOPLE:
        assert cosine_similarity(ref, lfw_embeddings[other].vector) < MISMATCH_THRESHOLD
    astronaut = extract_embedding(face_frame).vector
    for i in LFW_SAME_PERSON:
        assert cosine_similarity(astronaut, lfw_embeddings[i].vector) < MISMATCH_THRESHOLD
    assert cosine_similarity(astronaut, extract_embedding(cameraman).vector) < MISMATCH_THRESHOLD


def test_windowed_decision_same_person_is_match(lfw_embeddings):
    window = IdentityWindow(lfw_embeddings[LFW_SAME_PERSON[0]].vector, min_samples=3)
    for t, i in enumerate(LFW_SAME_PERSON[1:]):
        assert window.add(float(t), lfw_embeddings[i]) is not None
    verdict = window.verdict(3.0)
    assert verdict.decision == "match" and verdict.samples == 3


def test_windowed_decision_other_people_is_mismatch(lfw_embeddings):
    window = IdentityWindow(lfw_embeddings[LFW_SAME_PERSON[0]].vector, min_samples=3)
    for t, i in enumerate(LFW_OTHER_PEOPLE):
        window.add(float(t), lfw_embeddings[i])
    assert window.verdict(3.0).decision == "mismatch"


def test_blur_ruins_similarity_and_the_gate_rejects_it(face_frame):
    ref = extract_embedding(face_frame)
    blurred = extract_embedding(cv2.GaussianBlur(face_frame, (0, 0), 9))
    assert blurred is not None
    assert cosine_similarity(ref.vector, blurred.vector) < MATCH_THRESHOLD  # why the gate exists
    assert "blurred" in blurred.quality.problems
    window = IdentityWindow(ref.vector, min_samples=1)
    assert window.add(0.0, blurred) is None  # not compared
    verdict = window.verdict(0.0)
    assert verdict.decision == "undecided" and verdict.rejected_low_quality == 1


def test_gate_rejects_dark_profile_and_small_faces(face_frame, cameraman):
    dark = extract_embedding(cv2.convertScaleAbs(face_frame, alpha=0.2))
    assert "too_dark" in dark.quality.problems
    profile = extract_embedding(cameraman)
    assert "not_frontal" in profile.quality.problems
    small = extract_embedding(cv2.resize(face_frame, (160, 120), interpolation=cv2.INTER_AREA))
    assert "too_small" in small.quality.problems


def test_smallest_face_selects_the_id_card_photo(face_frame):
    # a KTP snapshot: the live face and a small photo of a face in the same frame
    frame = face_frame.copy()
    card = cv2.resize(face_frame, (200, 150), interpolation=cv2.INTER_AREA)
    frame[320:470, 430:630] = card
    largest = extract_embedding(frame, select="largest", max_width=None)
    smallest = extract_embedding(frame, select="smallest", max_width=None)
    assert smallest.face.w < largest.face.w / 2


def test_decide():
    assert decide([0.9, 0.8]) == ("undecided", pytest.approx(0.85))
    assert decide([]) == ("undecided", None)
    assert decide([0.9, 0.1, 0.8])[0] == "match"  # one bad frame does not flip the median
    assert decide([0.1, 0.2, 0.9])[0] == "mismatch"
    assert decide([0.3, 0.3, 0.3])[0] == "undecided"


def test_window_forgets_old_samples(lfw_embeddings):
    window = IdentityWindow(lfw_embeddings[LFW_SAME_PERSON[0]].vector, window_s=10.0, min_samples=2)
    window.add(0.0, lfw_embeddings[LFW_OTHER_PEOPLE[0]])
    window.add(1.0, lfw_embeddings[LFW_OTHER_PEOPLE[1]])
    assert window.verdict(2.0).decision == "mismatch"
    window.add(20.0, lfw_embeddings[LFW_SAME_PERSON[1]])
    window.add(21.0, lfw_embeddings[LFW_SAME_PERSON[2]])
    verdict = window.verdict(21.0)
    assert verdict.decision == "match" and verdict.samples == 2


def test_cosine_similarity_edges():
    v = np.ones(128, np.float32)
    assert cosine_similarity(v, v) == pytest.approx(1.0)
    assert cosine_similarity(v, -v) == pytest.approx(-1.0)
    assert cosine_similarity(v, np.zeros(128)) == 0.0
