"""The proctoring profile: defaults, bounds, and what the analysers get from it."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from config import DEFAULT_PROCTORING_PROFILE, PROCTORING_KINDS, ProctoringProfile
from proctor.analysis import FindingKind
from proctor.proctoring import analyzer_config, incident_settings, vad_config

K = FindingKind


def profile(**changes) -> ProctoringProfile:
    data = DEFAULT_PROCTORING_PROFILE.model_dump()
    data.update(changes)
    return ProctoringProfile.model_validate(data)


def test_the_profile_knows_exactly_the_finding_kinds():
    assert set(PROCTORING_KINDS) == {k.value for k in FindingKind}


def test_defaults():
    p = DEFAULT_PROCTORING_PROFILE
    assert p.sample_fps == 3.0 and p.fullscreen_required
    assert p.identity.interval_s == 3.0 and p.identity.window_s == 60.0
    assert p.prompt("no_face").text_id.startswith("Wajah tidak terlihat")
    assert p.prompt("multiple_faces") is None  # no prompt: the assessor decides what to say


def test_the_profile_survives_a_json_round_trip():
    p = profile(sample_fps=2.0)
    assert ProctoringProfile.model_validate_json(p.model_dump_json()) == p


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"sample_fps": 0.1}, "greater than or equal"),
        ({"sample_fps": 30}, "less than or equal"),
        ({"name": ""}, "at least 1"),
        ({"rules": {"no_face": {"hold_s": -1}}}, "greater than or equal"),
        ({"rules": {"no_face": {"hold_s": 2, "colour": "red"}}}, "Extra inputs"),
        ({"rules": {"no_face": {"prompt": {"text_id": "x" * 201, "text_en": "y"}}}}, "at most 200"),
        ({"rules": {"frozen": {"hold_s": 1.5}}}, "frozen: hold_s paling sedikit 2"),
        ({"rules": {"looped": {"hold_s": 0.9}}}, "looped: hold_s paling sedikit 1.00"),
        ({"rules": {"selfie": {"hold_s": 1.0}}}, "selfie"),
        ({"thresholds": {"too_dark_luma": 300}}, "less than or equal"),
        ({"identity": {"interval_s": 30, "window_s": 30, "min_samples": 3}}, "jendela identitas"),
        ({"speech": {"threshold": 0.3, "neg_threshold": 0.5}}, "neg_threshold"),
        ({"unknown": 1}, "Extra inputs"),
    ],
)
def test_impossible_or_meaningless_values_are_refused(changes, message):
    with pytest.raises(ValidationError, match=message):
        profile(**changes)


def test_a_stored_profile_without_a_newer_kind_gets_the_default_rule_for_it():
    data = DEFAULT_PROCTORING_PROFILE.model_dump()
    del data["rules"]["speech_in_quiet"]
    data["rules"]["no_face"]["hold_s"] = 7.0
    p = ProctoringProfile.model_validate(data)
    assert p.rule("speech_in_quiet") == DEFAULT_PROCTORING_PROFILE.rule("speech_in_quiet")
    assert p.rule("no_face").hold_s == 7.0


def test_analyzer_vad_and_incident_settings_follow_the_profile():
    p = profile(
        sample_fps=2.0,
        thresholds={"too_dark_luma": 40.0},
        identity={"interval_s": 5.0, "window_s": 90.0, "min_samples": 4},
        speech={"threshold": 0.6, "neg_threshold": 0.4, "min_speech_s": 0.5, "min_silence_s": 1.0},
        rules={
            "no_face": {"hold_s": 6.0, "clear_s": 1.0},
            "blurred": {"enabled": False},
            "frozen": {"hold_s": 5.0},
            "looped": {"hold_s": 4.0},
        },
    )
    a = analyzer_config(p)
    assert (a.sample_fps, a.too_dark_luma) == (2.0, 40.0)
    # the hold is the frozen detector's window: consecutive samples (0.5 s apart) compared over the rest of it
    assert (a.frozen_min_age_s, a.frozen_window_s) == (0.5, 4.5)
    assert a.loop_min_run == 9  # samples at 0, 0.5, ... 4.0 s: 4 s from the first to the last
    assert (a.match_interval_s, a.identity_window_s, a.identity_min_samples) == (5.0, 90.0, 4)
    assert a.persist_s[K.NO_FACE] == 6.0
    v = vad_config(p)
    assert (v.threshold, v.neg_threshold, v.min_speech_s, v.min_silence_s) == (0.6, 0.4, 0.5, 1.0)
    s = incident_settings(p)
    assert s.for_kind(K.NO_FACE).hold_s == 6.0 and s.for_kind(K.NO_FACE).clear_s == 1.0
    assert s.for_kind(K.BLURRED) is None
    assert p.prompt("blurred") is None  # a kind that is off prompts nobody


def test_identity_off_turns_both_identity_kinds_off():
    s = incident_settings(profile(identity={"enabled": False}))
    assert s.for_kind(K.IDENTITY_MISMATCH) is None and s.for_kind(K.IDENTITY_UNCERTAIN) is None
    assert s.for_kind(K.NO_FACE) is not None


def test_prompts_can_be_switched_off_for_the_whole_scheme():
    assert profile(prompts_enabled=False).prompt("no_face") is None
