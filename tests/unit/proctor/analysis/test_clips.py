"""The test clips themselves: files Chromium can play, deterministic, and the pictures they claim to show."""

from __future__ import annotations

import hashlib
import wave

import cv2
import numpy as np

from proctor.analysis import detect_faces
from proctor.analysis.frames import prepare
from proctor.analysis.signals import mean_difference
from tests.media import clips


def test_y4m_has_chromiums_header_and_one_i420_frame_per_tick(tmp_path):
    path = clips.write_y4m(clips.CLIPS["ordinary"], tmp_path / "a.y4m", seconds=0.5)
    data = path.read_bytes()
    header, rest = data.split(b"\n", 1)
    assert header == b"YUV4MPEG2 W640 H480 F30:1 Ip A1:1 C420jpeg"
    frame_bytes = 640 * 480 * 3 // 2
    assert len(rest) == 15 * (6 + frame_bytes)
    first = np.frombuffer(rest[6 : 6 + frame_bytes], np.uint8).reshape(720, 640)
    assert rest[:6] == b"FRAME\n"
    assert np.array_equal(first, cv2.cvtColor(clips.CLIPS["ordinary"].frame(0.0), cv2.COLOR_BGR2YUV_I420))
    again = clips.write_y4m(clips.CLIPS["ordinary"], tmp_path / "b.y4m", seconds=0.5)
    assert hashlib.sha256(again.read_bytes()).digest() == hashlib.sha256(data).digest()  # deterministic


def test_clip_files_are_written_once(tmp_path):
    files = clips.ClipFiles(tmp_path)
    path = files.wav("silence")
    stamp = path.stat().st_mtime_ns
    assert files.wav("silence") == path and path.stat().st_mtime_ns == stamp
    with wave.open(str(path)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (48_000, 1, 2)


def test_the_scenarios_show_what_they_claim():
    faces = lambda clip, t: len(detect_faces(clips.CLIPS[clip].frame(t)))  # noqa: E731
    assert faces("ordinary", 1.0) == 1
    assert faces("face_leaves", 4.9) == 1 and faces("face_leaves", 5.5) == 0
    assert faces("second_face", 4.9) == 1 and faces("second_face", 5.1) == 2
    assert clips.CLIPS["camera_black"].frame(6.0).std() < 4
    frozen = clips.CLIPS["frozen"]
    assert np.array_equal(frozen.frame(6.0), frozen.frame(9.0))
    looped = clips.CLIPS["looped"]
    assert np.array_equal(looped.frame(2.0), looped.frame(12.0)) and not np.array_equal(
        looped.frame(2), looped.frame(3)
    )


def test_the_ordinary_clip_is_never_still_and_loops_without_a_jump():
    clip = clips.CLIPS["ordinary"]
    gray = lambda t: prepare(clip.frame(t)).gray  # noqa: E731
    assert min(mean_difference(gray(t), gray(t - 1.0)) for t in np.arange(1.0, 10.0, 0.5)) > 0.5
    # across the end of the file (Chromium starts it again) the picture moves no more than within it
    within = mean_difference(gray(5.0), gray(5.0 - 1 / 30))
    assert mean_difference(gray(0.0), gray(10.0 - 1 / 30)) < 2 * within + 0.5
