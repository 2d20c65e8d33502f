"""YuNet face detection on real photos: faces found, non-faces not, any frame size, any pixel format, yaw."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from proctor.analysis import TURNED_AWAY_YAW_DEG, detect_faces, estimate_yaw, prepare, to_i420

from .images import bgr_to_i420, lfw_face


def test_astronaut_face_is_found_frontal_with_landmarks_inside_the_box(face_frame):
    faces = detect_faces(face_frame)
    assert len(faces) == 1
    face = faces[0]
    assert face.score > 0.8
    assert face.frontal and abs(face.yaw_deg) < 20
    assert abs(face.roll_deg) < 15
    for x, y in face.landmarks:
        assert face.x <= x <= face.x + face.w
        assert face.y <= y <= face.y + face.h
    # eyes above the nose above the mouth
    (_, ry), (_, ly), (_, ny), (_, my1), (_, my2) = face.landmarks
    assert max(ry, ly) < ny < min(my1, my2)


@pytest.mark.parametrize("size", [(160, 120), (320, 240), (640, 480), (1280, 960)])
def test_detection_works_at_any_size_and_reports_original_coordinates(face_frame, size):
    frame = cv2.resize(face_frame, size, interpolation=cv2.INTER_AREA)
    faces = detect_faces(frame)
    assert len(faces) == 1
    reference = detect_faces(face_frame)[0]
    k = size[0] / face_frame.shape[1]
    # box centre in the resized frame's own pixels matches the 640x480 centre scaled by k (within 4% of width)
    cx, cy = faces[0].x + faces[0].w / 2, faces[0].y + faces[0].h / 2
    rx, ry = (reference.x + reference.w / 2) * k, (reference.y + reference.h / 2) * k
    assert abs(cx - rx) < 0.04 * size[0]
    assert abs(cy - ry) < 0.04 * size[0]


def test_full_size_detection_is_available(face_frame):
    faces = detect_faces(face_frame, max_width=None)
    assert len(faces) == 1
    assert faces[0].w > 100  # 640 px wide frame, no reduction


def test_i420_planes_and_grey_give_the_same_face(face_frame):
    bgr = detect_faces(face_frame)[0]
    i420 = bgr_to_i420(face_frame)
    stacked = detect_faces(i420, "yuv420p")[0]
    h, w = face_frame.shape[:2]
    y = i420[:h]
    u = i420[h : h + h // 4].reshape(h // 2, w // 2)
    v = i420[h + h // 4 :].reshape(h // 2, w // 2)
    assert np.array_equal(to_i420((y, u, v)), i420)
    planes = detect_faces((y, u, v))[0]
    grey = detect_faces(cv2.cvtColor(face_frame, cv2.COLOR_BGR2GRAY), "gray")[0]
    for other in (stacked, planes, grey):
        assert abs(other.x - bgr.x) < 8 and abs(other.y - bgr.y) < 8 and abs(other.w - bgr.w) < 10


def test_prepare_gives_luma_of_the_i420_frame(face_frame):
    i420 = bgr_to_i420(face_frame)
    p = prepare(i420, "yuv420p")
    assert (p.width, p.height) == (640, 480)
    assert p.gray.shape == (240, 320) and p.bgr.shape == (240, 320, 3)
    assert abs(float(p.gray.mean()) - float(cv2.cvtColor(face_frame, cv2.COLOR_BGR2GRAY).mean())) < 3


def test_lfw_faces_are_found():
    found = sum(1 for i in range(100) if detect_faces(lfw_face(i)))
    assert found >= 85  # measured 92/100 on these 25x25 crops


def test_lfw_non_faces_give_no_face():
    assert sum(len(detect_faces(lfw_face(i))) for i in range(100, 200)) <= 2  # measured 0


@pytest.mark.parametrize("name", ["coffee", "chelsea", "rocket", "page"])
def test_cat_coffee_rocket_page_are_not_faces(non_faces, name):
    assert detect_faces(non_faces[name]) == []


def test_profile_face_is_found_and_turned_away(cameraman):
    faces = detect_faces(cameraman)
    assert len(faces) == 1
    assert abs(faces[0].yaw_deg) > TURNED_AWAY_YAW_DEG
    assert not faces[0].frontal


def test_yaw_from_landmarks():
    frontal = ((40.0, 50.0), (60.0, 50.0), (50.0, 62.0), (42.0, 75.0), (58.0, 75.0))
    assert estimate_yaw(frontal) == pytest.approx(0.0)
    turned = ((40.0, 50.0), (60.0, 50.0), (60.0, 62.0), (42.0, 75.0), (58.0, 75.0))  # nose over one eye
    assert estimate_yaw(turned) == pytest.approx(45.0)
    other_way = ((40.0, 50.0), (60.0, 50.0), (40.0, 62.0), (42.0, 75.0), (58.0, 75.0))
    assert estimate_yaw(other_way) == pytest.approx(-45.0)
    collapsed = ((50.0, 50.0), (50.0, 50.0), (58.0, 62.0), (42.0, 75.0), (58.0, 75.0))
    assert estimate_yaw(collapsed) == 90.0


def test_two_faces_side_by_side(face_frame):
    faces = detect_faces(np.hstack([face_frame, face_frame]))
    assert len(faces) == 2


@pytest.mark.parametrize(
    ("frame", "fmt"),
    [
        (np.zeros((480, 640), np.uint8), "bgr24"),
        (np.zeros((480, 640, 3), np.float32), "bgr24"),
        (np.zeros((481, 640), np.uint8), "yuv420p"),
        (np.zeros((480, 640, 3), np.uint8), "gray"),
    ],
)
def test_bad_frames_are_refused(frame, fmt):
    with pytest.raises((TypeError, ValueError)):
        detect_faces(frame, fmt)
