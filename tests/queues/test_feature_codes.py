"""What each code an agent dials means, and the sentences the phone says back."""

from __future__ import annotations

import pytest

from queues.feature_codes import (
    Feature,
    FeatureAction,
    Refusal,
    parse_feature_code,
    paused_prompt,
    prompt_texts,
    reason_digits,
    spoken_code,
)

REASONS = {
    "break": "Nghỉ giải lao",
    "meal": "Nghỉ ăn",
    "training": "Đào tạo",
    "acw": "Xử lý sau cuộc gọi",
}
CODES = list(REASONS)


@pytest.mark.parametrize(
    ("code", "feature"),
    [
        ("*11", Feature(FeatureAction.LOGIN)),
        ("*12", Feature(FeatureAction.LOGOUT)),
        ("*3", Feature(FeatureAction.UNPAUSE)),
        (" *3 ", Feature(FeatureAction.UNPAUSE)),
        ("*21", Feature(FeatureAction.PAUSE, reason="break")),
        ("*22", Feature(FeatureAction.PAUSE, reason="meal")),
        ("*24", Feature(FeatureAction.PAUSE, reason="acw")),
    ],
)
def test_each_code_is_its_action(code: str, feature: Feature) -> None:
    assert parse_feature_code(code, CODES) == feature


@pytest.mark.parametrize("code", ["*25", "*20", "*29", "*2", "*2*", "*2#", "*202", "*2١"])
def test_a_pause_without_a_reason_at_that_digit_is_refused(code: str) -> None:
    """Only the digits of configured reasons: no fifth reason, no zero, no leading zero, no
    other script's digits."""
    assert parse_feature_code(code, CODES) == Feature(
        FeatureAction.PAUSE, refusal=Refusal.UNKNOWN_REASON
    )


@pytest.mark.parametrize(
    "code",
    ["", "*", "*1", "*13", "*111", "*4", "*31", "*02", "11", "600", "#11", "*x", "*2" + "1" * 20],
)
def test_anything_else_is_an_unknown_code(code: str) -> None:
    assert parse_feature_code(code, CODES) == Feature(None, refusal=Refusal.UNKNOWN_CODE)


def test_the_digit_is_the_position_in_the_configured_order() -> None:
    """Reordering the reasons in the settings reorders the digits: nothing is sorted."""
    assert reason_digits(["meal", "break"]) == {"1": "meal", "2": "break"}
    assert parse_feature_code("*21", ["meal", "break"]).reason == "meal"


def test_ten_reasons_or_more_take_two_digits() -> None:
    many = [f"r{i}" for i in range(1, 13)]
    assert parse_feature_code("*210", many).reason == "r10"
    assert parse_feature_code("*21", many).reason == "r1"


def test_no_reasons_configured_refuses_every_pause() -> None:
    assert parse_feature_code("*21", []).refusal is Refusal.UNKNOWN_REASON


def test_codes_are_spoken_key_by_key() -> None:
    assert spoken_code("*21") == "sao hai một"
    assert spoken_code("*12") == "sao một hai"


def test_every_outcome_has_a_prompt() -> None:
    """Whatever the phone answers (an action, a refusal, a pause per reason) can be played."""
    texts = prompt_texts(REASONS)
    outcomes = {a.value for a in FeatureAction if a is not FeatureAction.PAUSE}
    outcomes |= {r.value for r in Refusal}
    outcomes |= {paused_prompt(i) for i in range(1, len(REASONS) + 1)}
    assert set(texts) == outcomes
    assert all(t.strip() and t.endswith(".") for t in texts.values())


def test_the_confirmations_say_what_was_done_in_vietnamese() -> None:
    texts = prompt_texts(REASONS)
    assert texts["login"].startswith("Đã đăng nhập")
    assert texts["logout"] == "Đã đăng xuất."
    assert texts["unpause"] == "Đã sẵn sàng nhận cuộc gọi."
    assert texts[paused_prompt(2)] == "Đã tạm nghỉ: Nghỉ ăn."
    assert texts[paused_prompt(4)] == "Đã tạm nghỉ: Xử lý sau cuộc gọi."


def test_a_wrong_reason_digit_is_told_the_right_ones() -> None:
    text = prompt_texts(REASONS)["unknown_reason"]
    assert text.startswith("Lý do tạm nghỉ không hợp lệ.")
    for digit, label in zip(["một", "hai", "ba", "bốn"], REASONS.values(), strict=True):
        assert f"Sao hai {digit}: {label}." in text


def test_a_reason_label_as_typed_still_makes_one_sentence() -> None:
    texts = prompt_texts({"x": "  nghỉ   trưa. ", "y": "họp:"})
    assert texts[paused_prompt(1)] == "Đã tạm nghỉ: nghỉ trưa."
    assert texts[paused_prompt(2)] == "Đã tạm nghỉ: họp."
    assert "Sao hai một: nghỉ trưa. Sao hai hai: họp." in texts["unknown_reason"]
