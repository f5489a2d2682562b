"""The Vietnamese prompts callers hear, as text, and their sound files.

Every prompt is text here plus a sound file named after it. ``generate()`` makes missing
sound files from the text with ``espeak-ng`` (Southern Vietnamese voice) and ``sox`` (8 kHz,
mono, 16-bit WAV, what Asterisk plays without transcoding); a recorded file of the same name
in ``recorded_dir`` takes precedence over the generated one.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

__all__ = ["PROMPTS", "PromptError", "generate"]

PROMPTS: dict[str, str] = {
    "menu": (
        "Tổng đài 1022 xin kính chào. "
        "Cấp cứu y tế, xin bấm phím 1. "
        "Hỗ trợ lương thực và nhu yếu phẩm, bấm phím 2. "
        "Phản ánh vi phạm quy định phòng dịch, bấm phím 3."
    ),
    "invalid": "Lựa chọn không hợp lệ.",
    "no_input": "Quý vị chưa bấm phím nào.",
    "default": "Cuộc gọi của quý vị sẽ được chuyển đến tổng đài viên.",
    "chosen_medical": "Quý vị đã chọn cấp cứu y tế.",
    "chosen_food": "Quý vị đã chọn hỗ trợ lương thực và nhu yếu phẩm.",
    "chosen_violation": "Quý vị đã chọn phản ánh vi phạm.",
    "fallback": "Xin quý vị giữ máy, cuộc gọi đang được chuyển đến tổng đài viên.",
}

VOICE = "vi-vn-x-south"


class PromptError(RuntimeError):
    """A prompt's sound file could not be made."""


def generate(out_dir: Path, recorded_dir: Path | None = None, *, force: bool = False) -> list[Path]:
    """Make every prompt's WAV file in ``out_dir``; return the files written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for name, text in PROMPTS.items():
        dest = out_dir / f"{name}.wav"
        recorded = recorded_dir / f"{name}.wav" if recorded_dir else None
        if recorded is not None and recorded.exists():
            if force or not dest.exists() or dest.stat().st_mtime < recorded.stat().st_mtime:
                shutil.copy2(recorded, dest)
                written.append(dest)
            continue
        if dest.exists() and not force:
            continue
        _speak(text, dest)
        written.append(dest)
    return written


def _speak(text: str, dest: Path) -> None:
    for tool in ("espeak-ng", "sox"):
        if shutil.which(tool) is None:
            raise PromptError(f"{tool} is not installed (apt-get install {tool})")
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw.wav"
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
                str(dest),
            ],
            check=True,
            capture_output=True,
        )
