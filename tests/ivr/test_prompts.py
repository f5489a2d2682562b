"""Prompt files from text, with the real espeak-ng and sox: a text is only ever spoken."""

from __future__ import annotations

import shutil
import stat
from pathlib import Path

import pytest

from ivr.prompts import PromptError, duration_s, generate, speak

LONG_TEXT = "Nếu có sốt, ho, khó thở, xin quý vị tự cách ly tại nhà và gọi lại 1022. " * 25


def broken_espeak(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str) -> None:
    """Put an ``espeak-ng`` that runs ``body`` (a shell script) first on PATH."""
    bindir = tmp_path / "broken-bin"
    bindir.mkdir(exist_ok=True)
    tool = bindir / "espeak-ng"
    tool.write_text(f"#!/bin/sh\n{body}\n")
    tool.chmod(tool.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bindir}:{Path(shutil.which('sox') or '').parent}")


def test_a_text_naming_a_file_speaks_the_words_not_the_file(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text(LONG_TEXT)  # about 3 minutes if it were read out
    dest = tmp_path / "info.wav"
    speak(f"-f {secret}", dest)
    assert 0.5 < duration_s(dest) < 15  # the few words of the path, not the file


def test_a_text_that_is_an_option_is_spoken(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere.wav"
    for i, text in enumerate(("-h", "--version", f"-w {elsewhere}")):
        dest = tmp_path / f"p{i}.wav"
        speak(text, dest)
        assert duration_s(dest) > 0.2, text
    assert not elsewhere.exists()


def test_a_hung_synthesiser_is_stopped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    broken_espeak(tmp_path, monkeypatch, "exec sleep 60")
    with pytest.raises(PromptError, match=r"took over 0\.5 s"):
        speak("Xin chào.", tmp_path / "hello.wav", timeout_s=0.5)
    assert not (tmp_path / "hello.wav").exists()


def test_a_prompt_not_spoken_keeps_its_audio_or_plays_silence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "prompts"
    generate(out, {"welcome": "Xin chào."})
    before = (out / "welcome.wav").read_bytes()
    broken_espeak(tmp_path, monkeypatch, "exit 1")
    with pytest.raises(PromptError):  # without on_error: the first failure raises
        generate(out, {"welcome": "Chào mừng."})
    failed: list[str] = []
    written = generate(
        out,
        {"welcome": "Chào mừng.", "goodbye": "Tạm biệt."},
        on_error=lambda name, _exc: failed.append(name),
    )
    assert sorted(failed) == ["goodbye", "welcome"]
    assert (out / "welcome.wav").read_bytes() == before  # the previous audio plays on
    assert out / "goodbye.wav" in written
    assert duration_s(out / "goodbye.wav") == pytest.approx(1.0)  # never had any: silence
    monkeypatch.undo()
    written = generate(out, {"welcome": "Chào mừng.", "goodbye": "Tạm biệt."})
    # Both are spoken once the synthesiser works again (no other prompt is).
    assert {p.stem for p in written} == {"welcome", "goodbye"}


def test_duration_of_a_long_announcement(tmp_path: Path) -> None:
    dest = tmp_path / "long.wav"
    speak(LONG_TEXT[:2000], dest)
    assert duration_s(dest) > 60
    assert duration_s(tmp_path / "missing.wav") == 0.0
