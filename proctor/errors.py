"""Domain errors of the media engine. The web layer maps them to 4xx/5xx in one place.

Every error carries a stable machine-readable ``code`` (for the Socket.IO error payload) and a human message.
"""

from __future__ import annotations


class ProctorError(Exception):
    """Base class of every error the media engine raises on purpose."""

    code = "proctor_error"
    #: Whether the fault is the caller's (bad input, wrong state): the web layer answers 4xx.
    client_error = True

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidSdp(ProctorError):
    """The offer is not acceptable: too large, unparsable, or without the media the role needs."""

    code = "invalid_sdp"


class SdpTooLarge(InvalidSdp):
    code = "sdp_too_large"


class SdpMissingMedia(InvalidSdp):
    code = "sdp_missing_media"


class UnsupportedCodec(InvalidSdp):
    code = "unsupported_codec"


class UnknownSession(ProctorError):
    code = "unknown_session"


class UnknownPeer(ProctorError):
    code = "unknown_peer"


class SessionClosed(ProctorError):
    code = "session_closed"


class EngineNotRunning(ProctorError):
    code = "engine_not_running"
    client_error = False


class EngineTimeout(ProctorError):
    code = "engine_timeout"
    client_error = False


class IceGatheringTimeout(ProctorError):
    code = "ice_gathering_timeout"
    client_error = False
