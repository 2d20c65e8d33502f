"""WebRTC with aiortc: the only package in the project that imports aiortc/aioice.

``loop`` (the one RTC loop thread), ``engine`` (``MediaEngine``, the API the signaling layer calls), ``relay``
(pass-through of encoded packets, the pinned aiortc hook), ``sdp`` (offer validation), ``testing`` (loopback ICE and
synthetic peers for tests and the benchmark). See docs/MEDIA.md.
"""
