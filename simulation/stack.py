"""A whole hotline on throwaway ports: its own Asterisk instance, the service in-process,
SIPp agents. Used by the real-Asterisk tests and by ``hotline1022 simulate``, so both drive
exactly what ``make run`` runs.

Usage::

    async with Stack(state_dir=tmp) as stack:
        await stack.start_agents(2)
        ...
"""

from __future__ import annotations

import asyncio
import os
import random
import socket
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from hotline1022.service import Hotline
from hotline1022.settings import Settings
from provision.asterisk import Asterisk
from provision.instance import provision
from simulation.agents import SippAgent, SippAgentPool
from simulation.ports import asterisk_rtp_range, next_media_port, udp_free
from store.seed import agent_endpoint

__all__ = ["Stack", "free_port", "free_udp_tcp_port", "udp_free"]


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def free_udp_tcp_port() -> int:
    """A port free for both UDP and TCP (SIPp listens on both with some transports)."""
    for _ in range(50):
        port = free_port(socket.SOCK_DGRAM)
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                s.bind(("127.0.0.1", port))
        except OSError:
            continue
        return port
    raise RuntimeError("no free port")


class Stack:
    def __init__(
        self,
        *,
        state_dir: Path,
        database_url: str = "",
        agent_count: int = 20,
        instance: str | None = None,
        talk_ms: int = 2000,
        menu_file: Path | None = None,
        settings: Mapping[str, Any] | None = None,
        wrapup_s: int | None = None,
    ) -> None:
        """``settings``: other ``Settings`` fields (``callback_threshold_s``...)."""
        self.instance = instance or f"t{os.getpid()}x{random.randrange(1 << 20):05x}"
        # This test worker's own RTP ports (simulation/ports.py).
        rtp_start, rtp_end = asterisk_rtp_range()
        fields: dict[str, Any] = {
            "state_dir": state_dir,
            "database_url": database_url,
            "ami_port": free_port(),
            "sip_port": free_udp_tcp_port(),
            "agi_port": free_port(),
            "api_port": free_port(),
            "agent_count": agent_count,
            "asterisk_instance": self.instance,
            "rtp_start": rtp_start,
            "rtp_end": rtp_end,
            "ami_heartbeat_interval_s": 2.0,
            # Where the hotline calls citizens back: a free port, for a SippCallee to take.
            "callback_host": f"127.0.0.1:{free_udp_tcp_port()}",
            # No wrap-up unless a test asks: calls follow each other without a pause.
            "wrapup_s": 0,
        }
        fields.update(settings or {})
        self.settings = Settings(**fields)
        if menu_file is not None:
            self.settings.menu_file = menu_file
        if wrapup_s is not None:
            self.settings.wrapup_s = wrapup_s
        self.talk_ms = talk_ms
        self.asterisk: Asterisk | None = None
        self.hotline: Hotline | None = None
        self.agents: list[SippAgent] = []
        self.agent_pools: list[SippAgentPool] = []

    async def __aenter__(self) -> Stack:
        self.asterisk = await asyncio.to_thread(provision, self.settings, self.instance)
        self.hotline = Hotline(self.settings)
        await self.hotline.start()
        await self.wait_for(
            lambda: self.hotline is not None and self.hotline.link.connected,
            15,
            "the AMI link to log in",
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for agent in self.agents:
            agent.stop()
        for pool in self.agent_pools:
            pool.stop()
        if self.hotline is not None:
            await self.hotline.stop()
        if self.asterisk is not None:
            await asyncio.to_thread(self.asterisk.remove)

    async def stop_service(self) -> None:
        """Stop the service; Asterisk, SIPp and calls go on."""
        assert self.hotline is not None, "stack not started"
        await self.hotline.stop()
        self.hotline = None

    async def start_service(self) -> Hotline:
        """A new service on the same settings and database, as after a redeploy or crash."""
        assert self.hotline is None, "the service is running"
        self.hotline = Hotline(self.settings)
        await self.hotline.start()
        await self.wait_for(
            lambda: self.hotline is not None and self.hotline.link.connected,
            15,
            "the new service's AMI link to log in",
        )
        return self.hotline

    async def restart_service(self, down_s: float = 0.0) -> Hotline:
        await self.stop_service()
        await asyncio.sleep(down_s)
        return await self.start_service()

    @property
    def running(self) -> Hotline:
        assert self.hotline is not None, "stack not started"
        return self.hotline

    @staticmethod
    async def wait_for(cond: Callable[[], bool], within_s: float, what: str) -> None:
        deadline = time.monotonic() + within_s
        while not cond():
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out after {within_s:.0f} s waiting for {what}")
            await asyncio.sleep(0.05)

    def next_media_port(self) -> int:
        """A base for one SIPp's RTP ports: the next free block of this test worker's media
        ports (``simulation.ports.next_media_port``), apart from every Asterisk's RTP."""
        return next_media_port()

    async def start_agents(
        self, count: int, *, login: bool = True, first: int = 1
    ) -> list[SippAgent]:
        """Register ``count`` SIPp agents (agent01…) and log them in through the service."""
        secrets = self.settings.secrets
        started: list[SippAgent] = []
        for i in range(first, first + count):
            endpoint = agent_endpoint(i)
            agent = SippAgent(
                endpoint,
                secrets["agents"][endpoint],
                self.settings.sip_port,
                free_udp_tcp_port(),
                self.next_media_port(),
                talk_ms=self.talk_ms,
            )
            await asyncio.to_thread(agent.start)
            self.agents.append(agent)
            started.append(agent)
            if login:
                await self.running.agents.login(i)
        return started

    async def start_agent_pool(
        self,
        count: int,
        *,
        talk_ms: int,
        exponential: bool = True,
        expires_s: int = 3600,
        login: bool = True,
        seed: int | None = None,
        ring_ms: int = 0,
        audio: Path | None = None,
    ) -> SippAgentPool:
        """Register agents agent01…``count`` on one SIPp that answers for all of them
        (``SippAgentPool``), each phone ringing ``ring_ms`` before it answers, and log them
        in through the service. ``audio``: a pcap each agent plays from the answer on."""
        secrets = self.settings.secrets
        endpoints = [agent_endpoint(i) for i in range(1, count + 1)]
        pool = SippAgentPool(
            [(ep, secrets["agents"][ep]) for ep in endpoints],
            self.settings.sip_port,
            free_udp_tcp_port(),
            self.next_media_port(),
            talk_ms=talk_ms,
            exponential=exponential,
            expires_s=expires_s,
            seed=seed,
            ring_ms=ring_ms,
            audio=audio,
        )
        await asyncio.to_thread(pool.start)
        self.agent_pools.append(pool)
        if login:
            for i in range(1, count + 1):
                await self.running.agents.login(i)
        return pool

    async def wait_idle(self, within_s: float = 30) -> None:
        """Until every call the tracker saw is complete and written."""
        tracker = self.running.tracker

        def idle() -> bool:
            return not tracker.calls and tracker.pending == 0

        try:
            await self.wait_for(idle, within_s, "every call record to be complete")
        except TimeoutError as exc:
            open_calls = "; ".join(
                f"{c.uniqueid} {c.caller_number} status={c.status} queue={c.queue}"
                for c in tracker.calls.values()
            )
            raise TimeoutError(
                f"{exc}: open {open_calls or 'none'}, {tracker.pending} unwritten"
            ) from exc
