"""Retention classes: the longest applicable wins."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from hotline1022.settings import Settings
from recordings.retention import (
    DEFAULT_RETENTION_DAYS,
    Retention,
    applicable_classes,
    classify,
    expires_at,
)

DAYS = Settings().recording_retention_days
DEFAULT = 365


def cls(
    kind: str = "call",
    category: str | None = None,
    disposition: str | None = None,
    incident: bool = False,
) -> Retention:
    return classify(
        kind=kind,
        category=category,
        disposition=disposition,
        has_incident=incident,
        days=DAYS,
        default_days=DEFAULT,
    )


@pytest.mark.parametrize(
    ("kind", "category", "disposition", "incident", "want"),
    [
        ("call", "medical", None, False, Retention("emergency", 1825)),
        ("call", "medical", "incident", True, Retention("incident", 3650)),
        ("call", "food", "incident", True, Retention("incident", 3650)),
        ("call", "violation", "advice", False, Retention("violation", 730)),
        ("call", "general", "information", False, Retention("general", 365)),
        ("call", "general", "wrong_number", False, Retention("wrong_number", 31)),
        ("call", "medical", "prank", False, Retention("wrong_number", 31)),
        ("callback", "general", "wrong_number", False, Retention("callback", 365)),
        ("dispatch", None, None, False, Retention("dispatch", 1825)),
        ("conference", None, None, False, Retention("conference", 1825)),
        ("call", None, None, False, Retention("default", 365)),
    ],
)
def test_the_longest_applicable_class_wins(
    kind: str, category: str | None, disposition: str | None, incident: bool, want: Retention
) -> None:
    assert cls(kind, category, disposition, incident) == want


def test_a_wrong_number_is_kept_less_than_an_incident() -> None:
    assert (
        cls("call", "general", "wrong_number").days < cls("call", "general", "incident", True).days
    )


def test_information_counts_when_its_days_are_longer() -> None:
    days = {**DAYS, "information": 400}
    got = classify(
        kind="call",
        category="general",
        disposition="information",
        has_incident=False,
        days=days,
        default_days=DEFAULT,
    )
    assert got == Retention("information", 400)


def test_applicable_classes_are_listed_once_in_order() -> None:
    assert applicable_classes("callback", "medical", "duplicate", True) == [
        "callback",
        "incident",
        "emergency",
    ]


def test_expiry_is_the_end_plus_the_days() -> None:
    end = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)
    assert expires_at(end, 31) == datetime(2027, 1, 6, 10, 0, tzinfo=UTC)


def test_the_settings_keep_the_other_classes_days_and_refuse_typos(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HOTLINE_RECORDING_RETENTION_DAYS", '{"wrong_number": 60}')
    days = Settings().recording_retention_days
    assert days["wrong_number"] == 60 and days["incident"] == 3650
    for bad, words in (
        ('{"wrong_numbr": 60}', "unknown retention class(es) wrong_numbr"),
        ('{"incident": 0}', "at least 1 day: incident"),
    ):
        monkeypatch.setenv("HOTLINE_RECORDING_RETENTION_DAYS", bad)
        with pytest.raises(ValueError, match=r"retention") as err:
            Settings()
        assert words in str(err.value)


def test_the_defaults_match_the_settings() -> None:
    assert dict(DEFAULT_RETENTION_DAYS) == Settings().recording_retention_days
