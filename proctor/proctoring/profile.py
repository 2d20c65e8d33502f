"""A proctoring profile (``config.ProctoringProfile``, per scheme) turned into the analysers' settings."""

from __future__ import annotations

import math

from config.proctoring_profile import ProctoringProfile
from proctor.analysis.analyzer import AnalyzerConfig
from proctor.analysis.audio import VadConfig
from proctor.analysis.findings import VIDEO_KINDS
from proctor.proctoring.incidents import IncidentSettings, kind_settings


def analyzer_config(profile: ProctoringProfile) -> AnalyzerConfig:
    """The frame analyser's settings: sampling rate, thresholds, identity interval and window.

    The analyser's own ``persist_s`` follows the profile's hold times so that its findings and the incidents agree;
    the incident tracker is what applies them in a live session. The frozen and looped holds set those detectors'
    windows: frozen = differences between consecutive samples over (hold - one sample interval) s; looped = as many
    consecutive matching samples as fit in the hold (the first one included).
    """
    th, ident = profile.thresholds, profile.identity
    frozen_hold = profile.rule("frozen").hold_s
    loop_run = math.floor(profile.rule("looped").hold_s * profile.sample_fps + 1e-6) + 1
    return AnalyzerConfig(
        sample_fps=profile.sample_fps,
        too_dark_luma=th.too_dark_luma,
        covered_std=th.covered_std,
        blur_sharpness=th.blur_sharpness,
        turned_away_yaw_deg=th.turned_away_yaw_deg,
        frozen_max_mean_diff=th.frozen_max_mean_diff,
        frozen_min_age_s=1.0 / profile.sample_fps,
        frozen_window_s=frozen_hold - 1.0 / profile.sample_fps,
        loop_min_run=loop_run,
        match_interval_s=ident.interval_s,
        identity_window_s=ident.window_s,
        identity_min_samples=ident.min_samples,
        repeat_s=max(1.0, min(profile.rule(k.value).repeat_s or 3600.0 for k in VIDEO_KINDS)),
        persist_s={k: profile.rule(k.value).hold_s for k in VIDEO_KINDS},
    )


def vad_config(profile: ProctoringProfile) -> VadConfig:
    """The voice activity detector's thresholds and minimum durations."""
    sp = profile.speech
    return VadConfig(
        threshold=sp.threshold,
        neg_threshold=sp.neg_threshold,
        min_speech_s=sp.min_speech_s,
        min_silence_s=sp.min_silence_s,
    )


def incident_settings(profile: ProctoringProfile) -> IncidentSettings:
    """The incident tracker's per-kind hold, clear and repeat times, and which kinds are on."""
    return IncidentSettings(kinds=kind_settings(profile))
