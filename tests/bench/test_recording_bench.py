"""The recording-cost benchmark: its figures come from what the two arms measured (none is
written in), the disk is read from real WAV files, and a quick run on a real Asterisk goes
through both arms — the off arm leaves no file, the on arm one per call, with audio."""

from __future__ import annotations

import dataclasses
import math
import wave
from pathlib import Path
from typing import Any

import pytest

from tests.bench.loader import load_bench

bench = load_bench("recording_cost.py")


def _wav(path: Path, seconds: float, rate: int = 8000) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"\x01\x00" * round(seconds * rate))


def _peak(sl: float, asa: float, *, scale: float = 10.0, ci: float = 0.03) -> dict[str, Any]:
    return {
        "plan": {"time_scale": scale},
        "measured": {
            "service_levels": {"90%/15s": sl, "95%/20s": sl + 0.01},
            "service_level_ci": ci,
            "asa_s": asa,
            "abandon_rate": 0.0,
            "waited_share": asa / 100,
            "p95_wait_s": asa * 3,
        },
        "cpu": {"others_cores": 0.5},
        "lost": 0,
    }


def _arms(*, on_bytes: int = 1_600_000, on_cpu: float = 12.0) -> tuple[Any, Any]:
    off = bench.Arm(
        recording=False,
        calls=100,
        answered=100,
        call_s=2_000.0,
        menu_s=8.0,
        asterisk_cpu_s=10.0,
        window_s=200.0,
        disk=bench.Disk(files=0, bytes=0, audio_s=0.0, unreadable=0),
        asterisk_wrote=50_000,
        peak=_peak(0.91, 6.0),
    )
    on = bench.Arm(
        recording=True,
        calls=100,
        answered=100,
        call_s=2_000.0,
        menu_s=8.0,
        asterisk_cpu_s=on_cpu,
        window_s=200.0,
        disk=bench.Disk(files=100, bytes=on_bytes, audio_s=1_900.0, unreadable=0),
        asterisk_wrote=None,
        peak=_peak(0.89, 7.0),
    )
    return off, on


def test_every_figure_follows_from_the_two_arms() -> None:
    off, on = _arms()
    f = bench.figures(off, on, calls_per_day=15_000, talk_s=180)
    assert f.cpu_ms_per_call_off == pytest.approx(100.0)  # 10 s / 100 calls
    assert f.cpu_ms_per_call_on == pytest.approx(120.0)
    assert f.extra_cpu_ms_per_call == pytest.approx(20.0)
    assert f.extra_cpu_per_call_s == pytest.approx(2.0 / 2_000)
    assert (f.asterisk_cores_off, f.asterisk_cores_on) == pytest.approx((0.05, 0.06))
    assert f.bytes_per_call == pytest.approx(16_000)
    assert f.bytes_per_call_s == pytest.approx(800)
    assert f.audio_coverage == pytest.approx(0.95)
    assert f.day_call_s == pytest.approx(8 + 7 + 180)  # menu + the on arm's ASA + talk
    assert f.bytes_per_day_call == pytest.approx(800 * 195)
    assert f.disk_per_day_bytes == pytest.approx(15_000 * 800 * 195)
    assert f.extra_cpu_s_per_day_call == pytest.approx(0.001 * 195)
    assert f.service_levels_off == {"90%/15s": 0.91, "95%/20s": 0.92}
    assert f.service_levels_on["90%/15s"] == 0.89
    assert (f.asa_off_s, f.asa_on_s, f.time_scale) == (6.0, 7.0, 10.0)

    # Other measurements, other figures: nothing is a constant.
    off2, on2 = _arms(on_bytes=3_200_000, on_cpu=15.0)
    g = bench.figures(off2, on2, calls_per_day=10_000, talk_s=120)
    assert g.disk_per_day_bytes == pytest.approx(10_000 * 1_600 * (8 + 7 + 120))
    assert g.extra_cpu_ms_per_call == pytest.approx(50.0)


DAY: dict[str, float] = {"calls_per_day": 15_000, "talk_s": 180}


def test_a_service_level_change_is_judged_against_both_arms_noise() -> None:
    off, on = _arms()  # 91 % ±3 → 89 % ±3: 2 points, within ±4.2
    f = bench.figures(off, on, calls_per_day=15_000, talk_s=180)
    assert (f.sl_ci_off, f.sl_ci_on) == (0.03, 0.03)
    assert "(-2.0 points), within the runs' noise (±4.2 points" in bench.sl_verdict(f)
    worse = dataclasses.replace(on, peak=_peak(0.80, 30.0, ci=0.02))
    g = bench.figures(off, worse, calls_per_day=15_000, talk_s=180)
    assert "(-11.0 points), beyond the runs' noise (±3.6 points" in bench.sl_verdict(g)
    short = dataclasses.replace(on, peak={**on.peak, "measured": {**on.peak["measured"]}})
    short.peak["measured"]["service_level_ci"] = None
    h = bench.figures(off, short, calls_per_day=15_000, talk_s=180)
    assert "too short for a confidence interval" in bench.sl_verdict(h)
    full = dataclasses.replace(off, peak=_peak(1.0, 0.1, ci=0.0))
    k = bench.figures(full, dataclasses.replace(on, peak=_peak(1.0, 0.2, ci=0.0)), **DAY)
    assert "100.0% in both arms, in every batch of the window" in bench.sl_verdict(k)


def test_the_figures_refuse_what_they_cannot_measure() -> None:
    off, on = _arms()
    with pytest.raises(bench.BenchError, match="off arm, then the on arm"):
        bench.figures(on, off, calls_per_day=15_000, talk_s=180)
    silent = dataclasses.replace(on, disk=bench.Disk(files=0, bytes=0, audio_s=0, unreadable=0))
    with pytest.raises(bench.BenchError, match="no recording"):
        bench.figures(off, silent, calls_per_day=15_000, talk_s=180)
    no_calls = dataclasses.replace(off, calls=0)
    with pytest.raises(bench.BenchError, match="CPU per call"):
        bench.figures(no_calls, on, calls_per_day=15_000, talk_s=180)


def test_the_disk_is_read_from_the_files(tmp_path: Path) -> None:
    root = tmp_path / "recordings"
    assert bench.measure_disk(root) == bench.Disk(files=0, bytes=0, audio_s=0.0, unreadable=0)
    _wav(root / "calls/2026/12/06/1.wav", 2.5)
    _wav(root / "callbacks/2026/12/06/7.wav", 1.0, rate=16000)
    (root / "calls/2026/12/06/2.wav").write_bytes(b"RIFF")  # no header to read
    _wav(root / "calls/2026/12/06/3.part.wav", 4.0)  # MixMonitor still writes it
    disk = bench.measure_disk(root)
    files = [p for p in root.rglob("*") if p.is_file()]
    assert disk.files == 4 and disk.unreadable == 2
    assert disk.bytes == sum(p.stat().st_size for p in files)
    assert disk.audio_s == pytest.approx(3.5)


def test_the_report_names_the_command_and_the_shared_machine() -> None:
    off, on = _arms()
    on = dataclasses.replace(on, peak={**on.peak, "started_at": "2026-12-06T12:00:00+00:00"})
    f = bench.figures(off, on, calls_per_day=15_000, talk_s=180)
    text = bench.report(["--record"], f, off, on, wall_s=420, load="1.0 1.0 1.0", printed="x")
    assert "python bench/recording_cost.py --record" in text
    assert "--time-scale 10" in text and "Other work ran beside it" in text
    assert "disk per day at 15,000 calls: 2.34 GB" in text
    assert "| service level 90%/15s | 91.0% ±3.0% | 89.0% ±3.0% |" in text
    assert "| service level 95%/20s | 92.0% | 90.0% |" in text
    assert "| waited more than 1 s (unscaled) | 6.0% | 7.0% |" in text
    assert "| p95 wait s (unscaled) | 18.0 | 21.0 |" in text
    assert "| Asterisk's writes to storage, all files (/proc/pid/io) | 50.00 kB | — |" in text


@pytest.mark.asterisk
async def test_a_quick_run_measures_both_arms_on_a_real_asterisk() -> None:
    args = bench.parser().parse_args(
        bench._args_with_defaults(
            [
                "--calls-per-hour",
                "300",
                "--aht",
                "60",
                "--duration",
                "1m",
                "--warmup",
                "0",
                "--agents",
                "4",
            ]
        )
    )
    off, on = await bench._run(args)
    for arm in (off, on):
        assert arm.calls == arm.answered > 0
        assert arm.peak["lost"] == 0
        assert arm.asterisk_cpu_s > 0 and arm.call_s > 0
        assert set(arm.peak["measured"]["service_levels"]) == {"90%/15s", "95%/20s"}
    assert "--- recording off ---" in off.printed and "offered=" in off.printed
    assert "--- recording on ---" in on.printed and "offered=" in on.printed
    assert off.disk.files == 0  # recording_enabled off: MixMonitor never ran
    # As root (the tests' Asterisk runs under its own user), Asterisk's I/O is readable:
    # the on arm wrote at least its recordings.
    if off.asterisk_wrote is not None and on.asterisk_wrote is not None:
        assert on.asterisk_wrote >= on.disk.bytes > off.asterisk_wrote
    assert on.disk.files == on.calls and on.disk.unreadable == 0  # one closed WAV per call
    # 8 kHz 16-bit mono: 16,000 bytes per second of audio, so the bytes are the files' own.
    assert on.disk.bytes / on.disk.audio_s == pytest.approx(16_000, rel=0.05)
    # The agents' tone keeps MixMonitor writing: the files cover most of each call.
    assert 0.5 < on.disk.audio_s / on.call_s <= 1.0
    f = bench.figures(off, on, calls_per_day=15_000, talk_s=60)
    assert f.bytes_per_call_s == pytest.approx(on.disk.bytes / on.call_s)
    assert f.disk_per_day_bytes == pytest.approx(15_000 * f.bytes_per_call_s * f.day_call_s)
    assert math.isfinite(f.extra_cpu_ms_per_call)
