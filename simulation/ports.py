"""The port bands the harness takes its media and RTP ports from, one slice per test worker.

``make test`` runs the tests in parallel processes (pytest-xdist, ``-n N``). A port that is
chosen free by checking it and bound a moment later (by a SIPp, or by an Asterisk starting)
could be chosen by another worker in between. So each worker takes only its own slice of
every band: the N slices never meet. Outside xdist a process has the whole band.

The bands lie below the kernel's ephemeral range (32768+), where any socket bound to port 0
could take a port between our check and the real bind, and apart from each other:

- ``ASTERISK_RTP``: the RTP of a test's Asterisk (``Stack``, lone test instances);
- ``NODE_RTP``: the RTP of a second Asterisk beside a ``Stack`` (conference nodes);
- ``SIPP_MEDIA``: a SIPp's media ports (agents, citizens, callees, phones);
- ``CONFERENCE_MEDIA``: the conference phones' media ports.

``hotline1022 simulate`` keeps its own RTP range (10000–19999) and ``make run`` its default
(20000–20999).
"""

from __future__ import annotations

import os
import random
import socket

__all__ = [
    "ASTERISK_RTP",
    "CONFERENCE_MEDIA",
    "NODE_RTP",
    "SIPP_MEDIA",
    "asterisk_rtp_range",
    "band",
    "free_conference_media_port",
    "next_media_port",
    "node_rtp_range",
    "udp_free",
    "worker_slot",
]

ASTERISK_RTP = (22000, 24000)
SIPP_MEDIA = (24000, 28000)
CONFERENCE_MEDIA = (28000, 30000)
NODE_RTP = (30000, 32600)


def worker_slot() -> tuple[int, int]:
    """(index, count) of this pytest-xdist worker ("gw2" of 4: (2, 4)); (0, 1) outside."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    count = os.environ.get("PYTEST_XDIST_WORKER_COUNT", "")
    if worker.startswith("gw") and worker[2:].isdigit() and count.isdigit() and int(count) > 0:
        return int(worker[2:]) % int(count), int(count)
    return 0, 1


def band(lo: int, hi: int) -> range:
    """This process's slice of the ports ``lo``…``hi - 1`` (an even start)."""
    index, count = worker_slot()
    width = (hi - lo) // count & ~1
    return range(lo + index * width, lo + (index + 1) * width)


def udp_free(port: int) -> bool:
    """Whether UDP ``port`` on loopback is free now."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _window(ports: range, width: int) -> tuple[int, int]:
    """A random even-aligned window of ``width`` ports in ``ports`` (all of it if smaller)."""
    if len(ports) <= width:
        return ports.start, ports.stop - 1
    start = ports.start + 2 * random.randrange((len(ports) - width) // 2 + 1)
    return start, start + width - 1


def asterisk_rtp_range(width: int = 1000) -> tuple[int, int]:
    """(rtp_start, rtp_end) for a test's Asterisk, in this worker's slice of ``ASTERISK_RTP``."""
    return _window(band(*ASTERISK_RTP), width)


_node_cursor: int | None = None


def node_rtp_range(width: int = 100) -> tuple[int, int]:
    """(rtp_start, rtp_end) for another Asterisk beside a ``Stack``: the next ``width`` ports
    of this worker's slice of ``NODE_RTP``, so two nodes of one test never share one."""
    global _node_cursor
    ports = band(*NODE_RTP)
    if _node_cursor is None:
        _node_cursor = ports.start + width * random.randrange(max(len(ports) // width, 1))
    if _node_cursor + width > ports.stop:
        _node_cursor = ports.start
    start = _node_cursor
    _node_cursor += width
    return start, min(start + width, ports.stop) - 1


_media_cursor: int | None = None


def next_media_port(span: int = 6) -> int:
    """A base for one SIPp's RTP ports (it binds a few above it): the next block of 10 in this
    worker's slice of ``SIPP_MEDIA`` whose first ``span`` ports are all free now, so the SIPps
    of another test run on the machine do not collide with ours either."""
    global _media_cursor
    ports = band(*SIPP_MEDIA)
    if _media_cursor is None:
        _media_cursor = ports.start + 10 * random.randrange(len(ports) // 10)
    for _ in range(len(ports) // 10 + 1):
        _media_cursor += 10
        if _media_cursor + 10 > ports.stop:
            _media_cursor = ports.start
        if all(udp_free(_media_cursor + i) for i in range(span)):
            return _media_cursor
    raise RuntimeError("no free block of media ports")


def free_conference_media_port() -> int:
    """An even UDP port, it and the next three free (SIPp binds the media port and +2), in
    this worker's slice of ``CONFERENCE_MEDIA``."""
    ports = band(*CONFERENCE_MEDIA)
    for _ in range(200):
        port = ports.start + 2 * random.randrange((len(ports) - 4) // 2)
        if all(udp_free(p) for p in (port, port + 1, port + 2, port + 3)):
            return port
    raise RuntimeError("no free media port")
