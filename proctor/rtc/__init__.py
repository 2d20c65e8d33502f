"""WebRTC with aiortc: the only package in the project that imports aiortc/aioice.

``loop`` (the one RTC loop thread), ``engine`` (``MediaEngine``, the API the signaling layer calls, and its
lifecycle), ``options`` (``EngineOptions``, ICE configuration, codecs), ``session`` (one session's media state and the
``Host`` interface its parts use), ``peers`` (peer connections), ``candidate`` (the candidate's media), ``viewers``
(assessors and witnesses, talk-back), ``stats``, ``relay`` (pass-through of encoded packets, the pinned aiortc hook),
``sdp`` (offer validation), ``testing`` (loopback ICE and synthetic peers for tests and the benchmark).
See docs/MEDIA.md.
"""
