"""The billing rules at every boundary (rapport/billing/rules.py): one table per rule."""

from __future__ import annotations

import pytest

from rapport.billing import rules
from rapport.billing.models import LineItem, ModifierRule, SessionKind
from rapport.billing.rules import AddOn, FeePolicy, Minutes, ModifierPolicy


@pytest.mark.parametrize(
    ("minutes", "code"),
    [
        (0, ""),
        (15, ""),
        (16, "90832"),
        (37, "90832"),
        (38, "90834"),
        (52, "90834"),
        (53, "90837"),
        (90, "90837"),
    ],
)
def test_psychotherapy_code_by_minutes(minutes: int, code: str) -> None:
    choice = rules.session_code(SessionKind.PSYCHOTHERAPY, minutes)
    assert choice.code == code
    assert choice.add_ons == ()
    assert str(minutes) in choice.reason


@pytest.mark.parametrize(
    ("minutes", "code", "add_ons"),
    [
        (15, "", ()),  # too short for crisis: psychotherapy by minutes, none under 16
        (29, "90832", ()),
        (30, "90839", ()),
        (74, "90839", ()),
        (75, "90839", (AddOn("90840", 1),)),
        (104, "90839", (AddOn("90840", 1),)),
        (105, "90839", (AddOn("90840", 2),)),
        (134, "90839", (AddOn("90840", 2),)),
        (135, "90839", (AddOn("90840", 3),)),
    ],
)
def test_crisis_codes(minutes: int, code: str, add_ons: tuple[AddOn, ...]) -> None:
    choice = rules.session_code(SessionKind.CRISIS, minutes)
    assert (choice.code, choice.add_ons) == (code, add_ons)


@pytest.mark.parametrize(
    ("kind", "minutes", "code"),
    [
        (SessionKind.INTAKE, 0, ""),
        (SessionKind.INTAKE, 1, "90791"),
        (SessionKind.INTAKE, 75, "90791"),
        (SessionKind.FAMILY_WITH_CLIENT, 25, ""),
        (SessionKind.FAMILY_WITH_CLIENT, 26, "90847"),
        (SessionKind.FAMILY_WITHOUT_CLIENT, 25, ""),
        (SessionKind.FAMILY_WITHOUT_CLIENT, 26, "90846"),
        (SessionKind.FAMILY_WITHOUT_CLIENT, 80, "90846"),
    ],
)
def test_other_session_kinds(kind: str, minutes: int, code: str) -> None:
    assert rules.session_code(kind, minutes).code == code


@pytest.mark.parametrize(
    ("minutes", "face_to_face"),
    [
        (Minutes(video=15.9), 15),  # a minute counts once complete
        (Minutes(video=16.0), 16),
        (Minutes(video=8.0, audio=8.0), 16),
        (Minutes(video=7.5, audio=8.5), 16),
        (Minutes(video=10.0, audio=5.0, text=30.0), 15),  # live text is not face-to-face
        (Minutes(text=60.0), 0),
    ],
)
def test_face_to_face_minutes(minutes: Minutes, face_to_face: int) -> None:
    assert minutes.face_to_face == face_to_face


SHARE = ModifierPolicy()  # audio-only when more than 50 % of the minutes
SHARE_30 = ModifierPolicy(audio_only_percent=30)
SHARE_FQ = ModifierPolicy(audio_only_modifier="FQ")
ANY_VIDEO = ModifierPolicy(rule=ModifierRule.ANY_VIDEO)


@pytest.mark.parametrize(
    ("minutes", "policy", "modifier"),
    [
        (Minutes(video=50.0), SHARE, "95"),
        (Minutes(audio=50.0), SHARE, "93"),
        (Minutes(video=25.0, audio=25.0), SHARE, "95"),  # exactly half: not more than half
        (Minutes(video=24.9, audio=25.1), SHARE, "93"),  # just over half
        (Minutes(video=25.1, audio=24.9), SHARE, "95"),
        (Minutes(video=10.0, audio=40.0), SHARE, "93"),  # stepped down for most of it
        (Minutes(video=35.0, audio=15.0), SHARE_30, "95"),  # exactly 30 %
        (Minutes(video=34.9, audio=15.1), SHARE_30, "93"),
        (Minutes(audio=50.0), SHARE_FQ, "FQ"),
        (Minutes(video=1.0, audio=49.0), ANY_VIDEO, "95"),
        (Minutes(audio=50.0), ANY_VIDEO, "93"),
        (Minutes(video=0.0, audio=0.0, text=50.0), SHARE, ""),
        (Minutes(video=0.5), SHARE, ""),  # under a whole minute face to face
    ],
)
def test_telehealth_modifier(minutes: Minutes, policy: ModifierPolicy, modifier: str) -> None:
    assert rules.telehealth_modifier(minutes, policy).value == modifier


@pytest.mark.parametrize(("at_home", "place"), [(True, "10"), (False, "02"), (None, "")])
def test_place_of_service(at_home: bool | None, place: str) -> None:
    choice = rules.place_of_service(at_home)
    assert choice.value == place
    assert choice.reason


BOTH = FeePolicy(no_show_fee=5000, late_cancel_fee=2500)


@pytest.mark.parametrize(
    ("no_show", "late", "policy", "line"),
    [
        (True, False, BOTH, (LineItem.NO_SHOW, 5000)),
        (False, True, BOTH, (LineItem.LATE_CANCEL, 2500)),
        (False, False, BOTH, None),
        (True, False, FeePolicy(), None),
        (False, True, FeePolicy(no_show_fee=5000), None),
        (True, False, FeePolicy(no_show_fee=0), None),
    ],
)
def test_missed_session_fee(
    no_show: bool, late: bool, policy: FeePolicy, line: tuple[str, int] | None
) -> None:
    assert rules.missed_session_fee(no_show=no_show, late_cancellation=late, policy=policy) == line


@pytest.mark.parametrize(
    ("fee", "percent", "result"),
    [(15000, 50, 7500), (15000, 0, 0), (15000, 100, 15000), (999, 50, 500), (333, 33, 110)],
)
def test_percent_of_a_fee_in_whole_minor_units(fee: int, percent: int, result: int) -> None:
    assert rules.apply_percent(fee, percent) == result
