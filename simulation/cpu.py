"""How busy the machine is while a simulation runs, and how much of it is ours.

Samples ``/proc/stat`` (the whole machine) and ``/proc/<pid>/stat`` (Asterisk, the SIPp
processes, this Python process) every few seconds. The machine may be shared: what is busy
and not ours is reported as *others*, so a result can say whether it ran on a quiet machine.

    sampler = CpuSampler(lambda: {"asterisk": [pid]})
    task = asyncio.create_task(sampler.run())
    ...
    task.cancel()
    print(sampler.summary())
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import statistics
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

__all__ = ["CpuSampler", "CpuSummary"]

_TICK = os.sysconf("SC_CLK_TCK")


def _machine() -> tuple[float, float]:
    """(busy, total) jiffies of all CPUs since boot."""
    with open("/proc/stat") as f:
        values = [float(v) for v in f.readline().split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0.0)  # idle + iowait
    total = sum(values[:8])  # without guest time, already counted in user
    return total - idle, total


def _process(pid: int) -> float | None:
    """Seconds of CPU (user + system, all threads) the process used, or None if gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            raw = f.read()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2 :].split()
    return (float(fields[11]) + float(fields[12])) / _TICK


@dataclass(frozen=True)
class CpuSummary:
    """Busy shares of the whole machine (1.0 = every core busy); per group in cores."""

    cores: int
    samples: int
    machine_mean: float
    machine_p95: float
    groups_cores: Mapping[str, float]
    others_cores: float

    def line(self) -> str:
        groups = ", ".join(f"{k} {v:.2f}" for k, v in self.groups_cores.items())
        return (
            f"CPU: machine {self.machine_mean:.0%} busy on average (p95 of "
            f"{self.samples} samples {self.machine_p95:.0%}) of {self.cores} cores; in cores: "
            f"{groups}, others {self.others_cores:.2f}"
        )


@dataclass
class CpuSampler:
    pids: Callable[[], Mapping[str, list[int]]]
    interval_s: float = 2.0
    _machine_shares: list[float] = field(default_factory=list)
    _group_s: dict[str, float] = field(default_factory=dict)
    _last_proc: dict[int, float] = field(default_factory=dict)
    _elapsed_s: float = 0.0
    _busy_total: float = 0.0

    async def run(self) -> None:
        """Sample until cancelled."""
        last_busy, last_total = _machine()
        self._prime()
        loop = asyncio.get_running_loop()
        last_t = loop.time()
        while True:
            await asyncio.sleep(self.interval_s)
            busy, total = _machine()
            now = loop.time()
            if total > last_total:
                share = (busy - last_busy) / (total - last_total)
                self._machine_shares.append(share)
                self._busy_total += share * (now - last_t) * (os.cpu_count() or 1)
                self._elapsed_s += now - last_t
            last_busy, last_total, last_t = busy, total, now
            self._sample_processes()

    def _prime(self) -> None:
        for pids in self.pids().values():
            for pid in pids:
                used = _process(pid)
                if used is not None:
                    self._last_proc[pid] = used

    def _sample_processes(self) -> None:
        for group, pids in self.pids().items():
            for pid in pids:
                used = _process(pid)
                if used is None:
                    continue
                before = self._last_proc.get(pid, used)
                self._last_proc[pid] = used
                self._group_s[group] = self._group_s.get(group, 0.0) + used - before

    def seconds(self) -> dict[str, float]:
        """CPU seconds each group used while sampled (per unit of work: divide by it)."""
        return dict(self._group_s)

    def summary(self) -> CpuSummary:
        shares = sorted(self._machine_shares) or [0.0]
        elapsed = self._elapsed_s or 1.0
        groups = {k: v / elapsed for k, v in self._group_s.items()}
        machine_cores = self._busy_total / elapsed
        return CpuSummary(
            cores=os.cpu_count() or 1,
            samples=len(self._machine_shares),
            machine_mean=statistics.fmean(shares),
            machine_p95=shares[min(len(shares) - 1, int(0.95 * len(shares)))],
            groups_cores=groups,
            others_cores=max(0.0, machine_cores - sum(groups.values())),
        )


async def stop(task: asyncio.Task[None]) -> None:
    """Cancel a running ``CpuSampler.run`` task and wait for it."""
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
