"""Fixtures for the pbx tests: a fake AMI on loopback and links that are always closed."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from pbx.ami import AmiLink
from tests.pbx.fake_ami import FakeAmi

MakeLink = Callable[..., AmiLink]


@pytest.fixture
async def ami() -> AsyncIterator[FakeAmi]:
    server = FakeAmi()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def make_link(ami: FakeAmi) -> AsyncIterator[MakeLink]:
    """Build links to the fake AMI with short, test-sized timings; all closed at teardown.

    The heartbeat is off (a minute) unless a test asks for it, so background Pings never
    race a test's own assertions.
    """
    links: list[AmiLink] = []

    def make(**overrides: Any) -> AmiLink:
        options: dict[str, Any] = {
            "host": "127.0.0.1",
            "port": ami.port,
            "username": ami.username,
            "secret": ami.secret,
            "action_timeout": 2.0,
            "login_timeout": 2.0,
            "heartbeat_interval": 60.0,
            "heartbeat_timeout": 0.2,
            "reconnect_min": 0.05,
            "reconnect_max": 0.2,
        }
        options.update(overrides)
        link = AmiLink(**options)
        links.append(link)
        return link

    yield make
    for link in links:
        await link.close()


@pytest.fixture
async def link(make_link: MakeLink) -> AmiLink:
    link = make_link()
    await link.start()
    return link
