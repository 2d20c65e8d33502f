"""Reading a QR code the way a phone's camera app would, for the tests: OpenCV's classic detector, then its ArUco-based
one. The classic detector alone misses about 3 % of the codes the product draws (8 of 300 random phone links,
measured 2026-12-04); with the second, none of the 300."""

from __future__ import annotations

import cv2
import numpy as np


def decode_qr(gray: np.ndarray) -> str:
    """The text of the QR code in a greyscale image ("" when there is none)."""
    text, _points, _ = cv2.QRCodeDetector().detectAndDecode(gray)
    if not text:
        text, _points, _ = cv2.QRCodeDetectorAruco().detectAndDecode(gray)
    return text
