"""Prompt sound files from their text.

Every prompt is text (in the menu file, or a supervisor's announcement) plus a sound file
named after it. ``generate()`` makes the missing or out-of-date sound files with ``espeak-ng``
(Southern Vietnamese voice) and ``sox`` (8 kHz, mono, 16-bit WAV: what Asterisk plays without
transcoding). A recorded file of the same name in ``recorded_dir`` takes precedence.
``.texts.json`` beside the files remembers which text each generated file speaks, so a
changed text is spoken again and an unchanged one is not.

The text reaches espeak-ng on its standard input, never on its command line: a text such as
``-f /etc/passwd`` or ``-h`` is spoken as words, not taken as an option. Each run of
espeak-ng and sox has a time limit, so a hung synthesiser cannot hang its caller.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tempfile
import wave
from collections.abc import Callable, Mapping
from pathlib import Path

__all__ = [
    "BUILTIN_PROMPTS",
    "CALLBACK_OFFER_MINUTES",
    "RECORDED_PROMPTS",
    "SPEAK_TIMEOUT_S",
    "PromptError",
    "callback_offer_prompt",
    "duration_s",
    "generate",
    "remember",
    "speak",
    "write_silence",
]

# Recorded sound files (``ivr/recorded/<name>.wav``) that win over the spoken text.
RECORDED_PROMPTS = Path(__file__).resolve().parent / "recorded"

_KEEP_OR_STAY = (
    "Bấm phím 1 để được gọi lại mà vẫn giữ nguyên thứ tự;"
    " bấm phím khác hoặc chờ để tiếp tục giữ máy."
)
# The callback offer says "more than N minutes" with N the largest of these the estimate
# reaches; under a minute, or with no estimate (no agent to take the queue), it says the
# agents are busy.
CALLBACK_OFFER_MINUTES = (1, 2, 3, 5, 10, 15, 20, 30, 45, 60)


def callback_offer_prompt(wait_s: float | None) -> str:
    """The offer's prompt name for an estimated wait (``None``: no estimate)."""
    minutes = [m for m in CALLBACK_OFFER_MINUTES if wait_s is not None and wait_s >= 60 * m]
    return f"callback_offer_{minutes[-1]}" if minutes else "callback_offer_busy"


# Prompts played outside any menu: by the dialplan itself, or by the IVR around a callback.
BUILTIN_PROMPTS: dict[str, str] = {
    "fallback": "Xin quý vị giữ máy, cuộc gọi đang được chuyển đến tổng đài viên.",
    **{
        f"callback_offer_{m}": f"Thời gian chờ dự kiến hơn {m} phút. {_KEEP_OR_STAY}"
        for m in CALLBACK_OFFER_MINUTES
    },
    "callback_offer_busy": f"Các tổng đài viên đều đang bận. {_KEEP_OR_STAY}",
    "callback_confirm": (
        "Tổng đài đã ghi nhận yêu cầu gọi lại của quý vị. Khi đến lượt, tổng đài viên sẽ"
        " gọi lại số máy này. Xin cảm ơn."
    ),
    # A callback the caller cannot have (queues/callback_limits.py); they hold as usual.
    "callback_refused_number": (
        "Tổng đài không thể gọi lại số máy của quý vị. Xin quý vị vui lòng giữ máy."
    ),
    "callback_refused_limit": (
        "Tổng đài tạm thời không nhận thêm yêu cầu gọi lại. Xin quý vị vui lòng giữ máy."
    ),
    "callback_repeat": (
        "Quý vị đã có yêu cầu gọi lại, tổng đài sẽ gọi lại theo thứ tự."
        " Bấm phím 1 để giữ yêu cầu và gác máy; bấm phím khác hoặc chờ để tiếp tục."
    ),
    # The command conference's roll call and raised hands (extensions.conf, hotline-conf-*);
    # each conference's title prompt is made by the conference service.
    "conf-press-1": "Bấm phím 1 để xác nhận có mặt.",
    "conf-absent": "Điểm cầu chưa xác nhận có mặt. Xin cảm ơn.",
    "conf-hand": "Đã ghi nhận, xin chờ đến lượt.",
}

VOICE = "vi-vn-x-south"
MANIFEST = ".texts.json"
# espeak-ng speaks the longest announcement (2,000 characters, ~3 minutes of audio) in about
# a second; this much longer limit only stops a synthesiser that hangs.
SPEAK_TIMEOUT_S = 30.0
RATE = 8000  # Hz, mono, 16-bit: the format of every prompt file


class PromptError(RuntimeError):
    """A prompt's sound file could not be made."""


def _digest(text: str) -> str:
    return hashlib.sha256(f"{VOICE}\0{text}".encode()).hexdigest()[:16]


def generate(
    out_dir: Path,
    texts: Mapping[str, str],
    recorded_dir: Path | None = None,
    *,
    force: bool = False,
    timeout_s: float = SPEAK_TIMEOUT_S,
    on_error: Callable[[str, PromptError], None] | None = None,
) -> list[Path]:
    """Make every prompt's WAV file in ``out_dir``; return the files written.

    Without ``on_error`` the first prompt that cannot be spoken raises ``PromptError``. With
    it, that prompt is reported to ``on_error`` and the others are still made: the prompt
    keeps its previous sound file if it has one, or else gets one second of silence (so a
    menu still plays and takes keys), and it is spoken again the next time.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest = _read_manifest(out_dir)
    written: list[Path] = []
    for name, text in {**BUILTIN_PROMPTS, **texts}.items():
        dest = out_dir / f"{name}.wav"
        recorded = recorded_dir / f"{name}.wav" if recorded_dir else None
        if recorded is not None and recorded.exists():
            if force or manifest.get(name) != "recorded" or not dest.exists():
                shutil.copy2(recorded, dest)
                manifest[name] = "recorded"
                written.append(dest)
            continue
        digest = _digest(text)
        if dest.exists() and manifest.get(name) == digest and not force:
            continue
        try:
            speak(text, dest, timeout_s=timeout_s)
        except PromptError as exc:
            if on_error is None:
                _write_manifest(out_dir, manifest)
                raise
            on_error(name, exc)
            manifest.pop(name, None)  # not the text's audio: speak it again next time
            if dest.exists():
                continue
            write_silence(dest)
        else:
            manifest[name] = digest
        written.append(dest)
    _write_manifest(out_dir, manifest)
    return written


def remember(out_dir: Path, name: str, text: str) -> None:
    """Record that ``out_dir/<name>.wav`` now speaks ``text`` (it was made by ``speak``)."""
    manifest = _read_manifest(out_dir)
    manifest[name] = _digest(text)
    _write_manifest(out_dir, manifest)


def _read_manifest(out_dir: Path) -> dict[str, str]:
    try:
        manifest = json.loads((out_dir / MANIFEST).read_text())
    except (OSError, ValueError):
        return {}
    return manifest if isinstance(manifest, dict) else {}


def _write_manifest(out_dir: Path, manifest: Mapping[str, str]) -> None:
    tmp = out_dir / f"{MANIFEST}.tmp"
    tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True))
    tmp.replace(out_dir / MANIFEST)


def write_silence(dest: Path, seconds: float = 1.0) -> None:
    """A prompt file of silence (written atomically), for a prompt that could not be spoken."""
    tmp = dest.with_suffix(".tmp")
    with wave.open(str(tmp), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(b"\0\0" * int(RATE * seconds))
    tmp.replace(dest)


def duration_s(path: Path) -> float:
    """How long a prompt file plays, in seconds (0.0 when it is missing or unreadable).

    A WAV file's header says it; for a file ``wave`` cannot read, its size at 8 kHz 16-bit.
    """
    try:
        with wave.open(str(path), "rb") as wav:
            return wav.getnframes() / float(wav.getframerate() or RATE)
    except (wave.Error, EOFError):
        return path.stat().st_size / (2.0 * RATE)
    except OSError:
        return 0.0


def speak(text: str, dest: Path, *, timeout_s: float = SPEAK_TIMEOUT_S) -> None:
    """Speak ``text`` into ``dest`` (written atomically: a call never plays half a file).

    The text goes to espeak-ng on stdin, so no text is ever read as an option. Raises
    ``PromptError`` if a tool is missing, fails, or takes longer than ``timeout_s``.
    """
    for tool in ("espeak-ng", "sox"):
        if shutil.which(tool) is None:
            raise PromptError(f"{tool} is not installed (apt-get install {tool})")
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw.wav"
        out = Path(tmp) / "out.wav"
        try:
            subprocess.run(
                ["espeak-ng", "-v", VOICE, "-s", "165", "-w", str(raw), "--stdin"],
                input=text.encode("utf-8"),
                check=True,
                capture_output=True,
                timeout=timeout_s,
            )
            subprocess.run(
                [
                    "sox",
                    str(raw),
                    "-r",
                    str(RATE),
                    "-c",
                    "1",
                    "-b",
                    "16",
                    "-e",
                    "signed-integer",
                    str(out),
                ],
                check=True,
                capture_output=True,
                timeout=timeout_s,
            )
        except subprocess.CalledProcessError as exc:
            raise PromptError(
                f"could not speak prompt {dest.stem!r}: {exc.stderr.decode(errors='replace')}"
            ) from exc
        except subprocess.TimeoutExpired as exc:
            raise PromptError(
                f"could not speak prompt {dest.stem!r}: {exc.cmd[0]} took over {timeout_s:g} s"
            ) from exc
        except OSError as exc:
            raise PromptError(f"could not speak prompt {dest.stem!r}: {exc}") from exc
        shutil.copyfile(out, dest.with_suffix(".tmp"))
        dest.with_suffix(".tmp").replace(dest)
