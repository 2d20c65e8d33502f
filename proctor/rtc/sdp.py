"""Validation of the offers the pages send, before aiortc sees them. One precise error per problem."""

from __future__ import annotations

from dataclasses import dataclass

from aiortc import sdp as aiortc_sdp

from proctor.errors import InvalidSdp, SdpMissingMedia, SdpTooLarge, UnsupportedCodec

#: A Chromium offer with audio+video and a few candidates is 4–8 KB; anything near this limit is not an offer.
MAX_SDP_BYTES = 32 * 1024

#: ICE candidates accepted per media section; each one makes the server send connectivity checks to that address.
MAX_CANDIDATES = 24

_SENDS = ("sendrecv", "sendonly")
_RECEIVES = ("sendrecv", "recvonly")


@dataclass(frozen=True)
class OfferSummary:
    """What an accepted offer contains."""

    audio_direction: str | None
    video_direction: str | None
    #: 2 when the offer carries the small video layer as a second video section (docs/MEDIA.md, "Classroom").
    video_sections: int = 1

    @property
    def sends_audio(self) -> bool:
        return self.audio_direction in _SENDS


def parse_offer(sdp: object, role: str, max_bytes: int = MAX_SDP_BYTES) -> OfferSummary:
    """Check that *sdp* is an acceptable offer for *role* (``candidate``, ``assessor`` or ``witness``).

    candidate: one audio (opus) and one video (VP8) section, both sending, and optionally a second video section (the
    small layer for the classroom). source (a candidate's extra camera or screen): one video (VP8) section that sends,
    at most one audio section. viewers: one video (VP8) section that receives (a second one receives the small
    layer), at most one audio (opus) section that receives. Raises a subclass of :class:`InvalidSdp`.
    """
    if not isinstance(sdp, str):
        raise InvalidSdp("the offer must be a string")
    size = len(sdp.encode("utf-8", "replace"))
    if size > max_bytes:
        raise SdpTooLarge(f"the offer is {size} bytes; at most {max_bytes} are accepted")
    if not sdp.lstrip().startswith("v=0"):
        raise InvalidSdp("the offer does not start with 'v=0'")
    if "\x00" in sdp:
        raise InvalidSdp("the offer contains a NUL character")
    try:
        description = aiortc_sdp.SessionDescription.parse(sdp)
    except Exception as exc:  # noqa: BLE001 - aiortc raises ValueError, KeyError, IndexError ... on malformed lines
        raise InvalidSdp(f"the offer cannot be parsed: {type(exc).__name__}: {exc}") from None

    audio = [m for m in description.media if m.kind == "audio"]
    video = [m for m in description.media if m.kind == "video"]
    others = [m.kind for m in description.media if m.kind not in ("audio", "video")]
    if others:
        raise InvalidSdp(f"unexpected media section(s): {', '.join(others)}")
    if len(audio) > 1 or len(video) > 2:
        raise InvalidSdp("at most one audio and two video sections (full and small layer) are accepted")
    if not video:
        raise SdpMissingMedia("the offer has no video section")
    if role == "candidate" and not audio:
        raise SdpMissingMedia("the candidate's offer has no audio section")

    for media in description.media:
        if media.ice is None or not media.ice.usernameFragment or not media.ice.password:
            raise InvalidSdp(f"the {media.kind} section has no ICE credentials (a=ice-ufrag / a=ice-pwd)")
        if media.dtls is None or not media.dtls.fingerprints:
            raise InvalidSdp(f"the {media.kind} section has no DTLS fingerprint")
        if media.rtp.muxId in (None, ""):
            raise InvalidSdp(f"the {media.kind} section has no a=mid")
        if len(media.ice_candidates) > MAX_CANDIDATES:
            raise InvalidSdp(f"the {media.kind} section lists {len(media.ice_candidates)} ICE candidates; "
                             f"at most {MAX_CANDIDATES} are accepted")

    for section in video:
        if "vp8" not in {c.name.lower() for c in section.rtp.codecs}:
            raise UnsupportedCodec("the video section does not offer VP8 (the relay forwards VP8 only)")
    if audio and "opus" not in {c.name.lower() for c in audio[0].rtp.codecs}:
        raise UnsupportedCodec("the audio section does not offer Opus")

    video_direction = video[0].direction or "sendrecv"
    if len(video) == 2:
        small_direction = video[1].direction or "sendrecv"
        if small_direction not in (_SENDS if role == "candidate" else _RECEIVES):
            raise SdpMissingMedia(f"the small video layer is '{small_direction}'; it must "
                                  f"{'send' if role == 'candidate' else 'receive'}")
    audio_direction = (audio[0].direction or "sendrecv") if audio else None
    if role == "candidate":
        if video_direction not in _SENDS:
            raise SdpMissingMedia(f"the candidate's video is '{video_direction}'; it must send")
        if audio_direction not in _SENDS:
            raise SdpMissingMedia(f"the candidate's audio is '{audio_direction}'; it must send")
    elif role == "source":
        if video_direction not in _SENDS:
            raise SdpMissingMedia(f"the source's video is '{video_direction}'; it must send")
    elif role in ("assessor", "witness"):
        if video_direction not in _RECEIVES:
            raise SdpMissingMedia(f"the viewer's video is '{video_direction}'; it must receive")
        if audio_direction is not None and audio_direction not in _RECEIVES:
            raise SdpMissingMedia(f"the viewer's audio is '{audio_direction}'; it must receive")
    else:
        raise ValueError(f"unknown role {role!r}")
    return OfferSummary(audio_direction=audio_direction, video_direction=video_direction, video_sections=len(video))
