"""Feature codes an agent dials from their softphone, and what each one says back.

Pure logic, no I/O: ``parse_feature_code`` turns what was dialled into an action, and
``prompt_texts`` gives the Vietnamese sentences the phone plays (``queues.agent_phone``)::

    *11   log in to the queues          "Đã đăng nhập vào hàng đợi."
    *12   log out                        "Đã đăng xuất."
    *2N   pause with reason N            "Đã tạm nghỉ: Nghỉ ăn."
    *3    resume (unpause)               "Đã sẵn sàng nhận cuộc gọi."

N is the 1-based position of the reason in the configured pause reasons
(``HOTLINE_PAUSE_REASONS``, in the order they are given), so with the default reasons
``*22`` is "meal"::

    >>> parse_feature_code("*22", ["break", "meal", "training", "acw"])
    Feature(action=<FeatureAction.PAUSE: 'pause'>, reason='meal', refusal=None)
    >>> parse_feature_code("*29", ["break", "meal"]).refusal
    <Refusal.UNKNOWN_REASON: 'unknown_reason'>
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

__all__ = [
    "LOGIN_CODE",
    "LOGOUT_CODE",
    "PAUSE_PREFIX",
    "UNPAUSE_CODE",
    "Feature",
    "FeatureAction",
    "Refusal",
    "parse_feature_code",
    "paused_prompt",
    "prompt_texts",
    "reason_digits",
    "spoken_code",
]

LOGIN_CODE = "*11"
LOGOUT_CODE = "*12"
PAUSE_PREFIX = "*2"
UNPAUSE_CODE = "*3"
# Longer than any code: a mistyped number, not a reason's position.
_MAX_CODE_CHARS = 8


class FeatureAction(enum.StrEnum):
    LOGIN = "login"
    LOGOUT = "logout"
    PAUSE = "pause"
    UNPAUSE = "unpause"


class Refusal(enum.StrEnum):
    """Why nothing was done; each has its own prompt (the value is the prompt's name)."""

    UNKNOWN_CODE = "unknown_code"  # not a feature code at all
    UNKNOWN_REASON = "unknown_reason"  # *2 with no reason at that position
    NOT_AN_AGENT = "not_an_agent"  # the phone is no agent's
    NOT_LOGGED_IN = "not_logged_in"  # pause or resume while logged out
    ALREADY_LOGGED_OUT = "already_logged_out"  # *12 while logged out: nothing to do
    DEACTIVATED = "deactivated"  # *11 by an agent who may not log in
    FAILED = "failed"  # the service could not do it (Asterisk or the database)


@dataclass(frozen=True)
class Feature:
    """What a dialled code asks: an action (with the pause reason's code), or a refusal."""

    action: FeatureAction | None
    reason: str | None = None
    refusal: Refusal | None = None


def reason_digits(reasons: Sequence[str]) -> dict[str, str]:
    """The digits an agent dials after ``*2`` for each reason code: ``{"1": "break", ...}``."""
    return {str(i): code for i, code in enumerate(reasons, start=1)}


def parse_feature_code(code: str, reasons: Sequence[str] | Mapping[str, str]) -> Feature:
    """The action ``code`` (as dialled, e.g. ``*22``) asks for; ``reasons`` are the pause
    reasons' codes in their configured order, or their digits (``{"1": "break", …}``)."""
    code = code.strip()
    if code == LOGIN_CODE:
        return Feature(FeatureAction.LOGIN)
    if code == LOGOUT_CODE:
        return Feature(FeatureAction.LOGOUT)
    if code == UNPAUSE_CODE:
        return Feature(FeatureAction.UNPAUSE)
    if code.startswith(PAUSE_PREFIX) and len(code) <= _MAX_CODE_CHARS:
        digits = reasons if isinstance(reasons, Mapping) else reason_digits(reasons)
        reason = digits.get(code.removeprefix(PAUSE_PREFIX))
        if reason is None:
            return Feature(FeatureAction.PAUSE, refusal=Refusal.UNKNOWN_REASON)
        return Feature(FeatureAction.PAUSE, reason=reason)
    return Feature(None, refusal=Refusal.UNKNOWN_CODE)


_DIGIT_WORDS = ("không", "một", "hai", "ba", "bốn", "năm", "sáu", "bảy", "tám", "chín")


def spoken_code(code: str) -> str:
    """A feature code as said aloud: ``*21`` → "sao hai một"."""
    words = {"*": "sao", "#": "thăng", **{str(i): w for i, w in enumerate(_DIGIT_WORDS)}}
    return " ".join(words[c] for c in code if c in words)


def _sentence(text: str) -> str:
    """One line, capitalised, ending in a full stop (a reason's label is what a supervisor
    typed)."""
    text = " ".join(text.split()).rstrip(" .,;:")
    return f"{text[:1].upper()}{text[1:]}."


def paused_prompt(position: int) -> str:
    """The name of the prompt confirming a pause with the reason at ``position`` (1-based)."""
    return f"paused_{position}"


def prompt_texts(
    reasons: Mapping[str, str], digits: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Every prompt the agent's phone may play: name → Vietnamese text. ``reasons``: code →
    label, in their configured order (the order gives the digits unless ``digits``, digit
    → code, says otherwise)."""
    digits = reason_digits(list(reasons)) if digits is None else digits
    choices = " ".join(
        _sentence(f"{spoken_code(PAUSE_PREFIX + digit)}: {reasons[code]}")
        for digit, code in digits.items()
    )
    codes = " ".join(
        _sentence(s)
        for s in (
            f"{spoken_code(LOGIN_CODE)}: đăng nhập",
            f"{spoken_code(LOGOUT_CODE)}: đăng xuất",
            f"{spoken_code(PAUSE_PREFIX)} và số thứ tự lý do: tạm nghỉ",
            f"{spoken_code(UNPAUSE_CODE)}: sẵn sàng nhận cuộc gọi",
        )
    )
    texts = {
        FeatureAction.LOGIN.value: "Đã đăng nhập vào hàng đợi.",
        FeatureAction.LOGOUT.value: "Đã đăng xuất.",
        FeatureAction.UNPAUSE.value: "Đã sẵn sàng nhận cuộc gọi.",
        Refusal.UNKNOWN_CODE.value: f"Mã chức năng không hợp lệ. {codes}",
        Refusal.UNKNOWN_REASON.value: f"Lý do tạm nghỉ không hợp lệ. {choices}".strip(),
        Refusal.NOT_AN_AGENT.value: "Máy này không phải máy của tổng đài viên.",
        Refusal.NOT_LOGGED_IN.value: (
            f"Bạn chưa đăng nhập. Bấm {spoken_code(LOGIN_CODE)} để đăng nhập."
        ),
        Refusal.ALREADY_LOGGED_OUT.value: "Bạn đã đăng xuất từ trước.",
        Refusal.DEACTIVATED.value: "Tài khoản tổng đài viên này đã bị khóa.",
        Refusal.FAILED.value: "Xin lỗi, tổng đài chưa thực hiện được. Xin thử lại sau.",
    }
    for digit, code in digits.items():
        texts[paused_prompt(int(digit))] = _sentence(f"Đã tạm nghỉ: {reasons[code]}")
    return texts
