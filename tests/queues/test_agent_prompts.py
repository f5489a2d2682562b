"""The agent phone's prompts: spoken once, again when a text changes, silence when they cannot
be spoken, and never an error that would stop the service."""

from __future__ import annotations

import logging
import wave
from pathlib import Path

import pytest

from ivr.prompts import PromptError
from queues.agent_prompts import AgentPrompts

TEXTS = {"login": "Đã đăng nhập.", "failed": "Xin lỗi."}


def wav_names(folder: Path) -> set[str]:
    return {p.stem for p in folder.glob("*.wav")}


class Voice:
    """Writes a real 8 kHz WAV per text (half a second per word); fails on request."""

    def __init__(self, fail: set[str] | None = None) -> None:
        self.spoken: list[str] = []
        self.fail = fail or set()

    def __call__(self, text: str, dest: Path) -> None:
        if text in self.fail:
            raise PromptError(f"could not speak prompt {dest.stem!r}: espeak-ng crashed")
        self.spoken.append(text)
        with wave.open(str(dest), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(8000)
            out.writeframes(b"\1\0" * 4000 * len(text.split()))


async def test_each_prompt_is_spoken_once_into_its_named_file(tmp_path: Path) -> None:
    voice = Voice()
    prompts = AgentPrompts(tmp_path / "agent", "/ast/prompts/agent/", TEXTS, speak=voice)
    assert await prompts.prepare() == []
    assert sorted(voice.spoken) == sorted(TEXTS.values())
    assert prompts.path("login") == "/ast/prompts/agent/login"
    assert (tmp_path / "agent/login.wav").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "agent").stat().st_mode & 0o777 == 0o755
    assert prompts.seconds("login") == pytest.approx(1.5)  # three words
    # The next start speaks nothing again.
    again = AgentPrompts(tmp_path / "agent", "/ast/prompts/agent", TEXTS, speak=voice)
    assert await again.prepare() == []
    assert len(voice.spoken) == 2
    assert again.seconds("failed") == pytest.approx(1.0)


async def test_a_changed_text_is_spoken_again_and_an_unused_prompt_removed(
    tmp_path: Path,
) -> None:
    voice = Voice()
    await AgentPrompts(
        tmp_path, "/a", {**TEXTS, "paused_5": "Đã tạm nghỉ: Họp."}, speak=voice
    ).prepare()
    voice.spoken.clear()
    changed = {**TEXTS, "login": "Đã đăng nhập vào hàng đợi."}
    await AgentPrompts(tmp_path, "/a", changed, speak=voice).prepare()
    assert voice.spoken == ["Đã đăng nhập vào hàng đợi."]
    assert wav_names(tmp_path) == {"failed", "login"}


async def test_a_prompt_that_cannot_be_spoken_is_silence_and_tried_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    voice = Voice(fail={"Xin lỗi."})
    prompts = AgentPrompts(tmp_path, "/a", TEXTS, speak=voice)
    with caplog.at_level(logging.WARNING):
        assert await prompts.prepare() == ["failed"]
    assert "agent prompt 'failed' not spoken" in caplog.text
    assert prompts.seconds("failed") == pytest.approx(1.0)  # a second of silence
    assert prompts.seconds("login") > 0
    voice.fail.clear()
    assert await AgentPrompts(tmp_path, "/a", TEXTS, speak=voice).prepare() == []
    assert voice.spoken[-1] == "Xin lỗi."


async def test_a_prompt_that_cannot_be_spoken_again_keeps_its_previous_file(
    tmp_path: Path,
) -> None:
    await AgentPrompts(tmp_path, "/a", TEXTS, speak=Voice()).prepare()
    before = (tmp_path / "login.wav").read_bytes()
    changed = {**TEXTS, "login": "Đã đăng nhập rồi."}
    prompts = AgentPrompts(tmp_path, "/a", changed, speak=Voice(fail={"Đã đăng nhập rồi."}))
    assert await prompts.prepare() == ["login"]
    assert (tmp_path / "login.wav").read_bytes() == before


async def test_a_directory_that_cannot_be_written_does_not_raise(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    prompts = AgentPrompts(blocker / "agent", "/a", TEXTS, speak=Voice())
    assert sorted(await prompts.prepare()) == ["failed", "login"]
    assert "could not be prepared" in caplog.text
    assert prompts.seconds("login") == 0.0


def test_an_unknown_prompt_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(KeyError, match="no agent prompt 'nope'"):
        AgentPrompts(tmp_path, "/a", TEXTS).path("nope")


async def test_the_real_voice_speaks_them(tmp_path: Path) -> None:
    prompts = AgentPrompts(tmp_path, "/a", {"login": "Đã đăng nhập vào hàng đợi."})
    assert await prompts.prepare() == []
    with wave.open(str(tmp_path / "login.wav"), "rb") as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (8000, 1, 2)
    assert prompts.seconds("login") > 0.5
