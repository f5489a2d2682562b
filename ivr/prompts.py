"""Prompt sound files from their text.

Every prompt is text (in the menu file, or a supervisor's announcement) plus a sound file
named after it. ``generate()`` makes the missing or out-of-date sound files with ``espeak-ng``
(Southern Vietnamese voice) and ``sox`` (8 kHz, mono, 16-bit WAV: what Asterisk plays without
transcoding). A recorded file of the same name in ``recorded_dir`` takes precedence.
``.texts.json`` beside the files remembers which text each generated file speaks, so a
changed text is spoken again and an unchanged one is not.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path

__all__ = [
    "BUILTIN_PROMPTS",
    "CALLBACK_OFFER_MINUTES",
    "RECORDED_PROMPTS",
    "PromptError",
    "callback_offer_prompt",
    "generate",
    "speak",
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
}

VOICE = "vi-vn-x-south"
MANIFEST = ".texts.json"


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
) -> list[Path]:
    """Make every prompt's WAV file in ``out_dir``; return the files written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest_path = out_dir / MANIFEST
    try:
        manifest: dict[str, str] = json.loads(manifest_path.read_text())
    except (OSError, ValueError):
        manifest = {}
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
        speak(text, dest)
        manifest[name] = digest
        written.append(dest)
    manifest_path.write_text(json.dumps(manifest, indent=1, sort_keys=True))
    return written


def speak(text: str, dest: Path) -> None:
    """Speak ``text`` into ``dest`` (written atomically: a call never plays half a file)."""
    for tool in ("espeak-ng", "sox"):
        if shutil.which(tool) is None:
            raise PromptError(f"{tool} is not installed (apt-get install {tool})")
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw.wav"
        out = Path(tmp) / "out.wav"
        try:
            subprocess.run(
                ["espeak-ng", "-v", VOICE, "-s", "165", "-w", str(raw), text],
                check=True,
                capture_output=True,
            )
            subprocess.run(
                [
                    "sox",
                    str(raw),
                    "-r",
                    "8000",
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
            )
        except subprocess.CalledProcessError as exc:
            raise PromptError(
                f"could not speak prompt {dest.stem!r}: {exc.stderr.decode(errors='replace')}"
            ) from exc
        shutil.copyfile(out, dest.with_suffix(".tmp"))
        dest.with_suffix(".tmp").replace(dest)
