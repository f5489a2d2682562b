"""Who may open a FastAGI session: the Asterisk this hotline provisioned, and nobody else.

Without a check, any local process could connect to the FastAGI port, play Asterisk, and
acknowledge an ambulance order or create callbacks to any number. Two gates, both here as
pure logic (``pbx.agi`` applies them to connections):

* **Peers**: the address a connection comes from must be in ``allowed_peers`` (loopback by
  default). The server binds loopback unless remote peers are explicitly allowed.
* **A proof per session**: the dialplan computes, for each AGI() it runs, a keyed digest of
  the script, the channel's ``UNIQUEID`` and the time, and appends it to the script's URL::

      agi://127.0.0.1:4573/ivr?t=<EPOCH>&p=<SHA1(key_out SHA1(key_in:ivr:UNIQUEID:EPOCH))>

  The server recomputes it from the keys (derived from the per-instance secret in
  ``<state_dir>/secrets.json``), compares in constant time, refuses a time outside
  ``window_s`` and a proof seen before (one use each).

Why a proof rather than the secret itself in the URL: the AGI() line, arguments and all, is
written to Asterisk's verbose log and shown by ``core show channels``; a secret there would
be readable by anyone who can read those and valid forever. A proof names one call, one
script and one moment, is accepted once, and says nothing of the keys. Asterisk's dialplan
has no HMAC, only ``${SHA1()}`` on text, so the proof is the nested form
``SHA1(k_out ‖ SHA1(k_in ‖ message))`` (the NMAC construction behind HMAC): unlike a plain
``SHA1(secret ‖ message)`` it is not open to length extension. ``k_in`` and ``k_out`` are
derived from the secret, so the dialplan (``extensions.conf``, mode 0640) never holds the
secret itself.

Usage::

    auth = AgiAuth("per-instance secret", window_s=30)
    keys = auth.keys                      # rendered into extensions.conf's [globals]
    refusal = auth.check("ivr", env)      # None: accepted; else why it was refused
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import parse_qs

__all__ = [
    "DEFAULT_ALLOWED_PEERS",
    "AgiAuth",
    "AgiKeys",
    "PeerFilter",
    "agi_keys",
    "agi_proof",
    "is_loopback",
]

DEFAULT_ALLOWED_PEERS = ("127.0.0.0/8", "::1/128")
# Proofs remembered to refuse a replay; a proof older than the window is refused anyway, so
# only the window's calls need remembering. The cap keeps memory bounded whatever happens.
_SEEN_MAX = 100_000


@dataclass(frozen=True)
class AgiKeys:
    """The two keys the dialplan computes proofs with (hex text, as ``${SHA1()}`` uses)."""

    inner: str
    outer: str


def agi_keys(secret: str) -> AgiKeys:
    """The dialplan's keys, derived from the per-instance secret (never the secret itself)."""
    if not secret:
        raise ValueError(
            "no FastAGI secret: provision Asterisk (hotline1022 asterisk start / make asterisk) "
            "or set HOTLINE_AGI_SECRET"
        )
    key = secret.encode()
    return AgiKeys(
        inner=hmac.new(key, b"hotline1022 agi inner", hashlib.sha256).hexdigest(),
        outer=hmac.new(key, b"hotline1022 agi outer", hashlib.sha256).hexdigest(),
    )


def agi_proof(keys: AgiKeys, script: str, uniqueid: str, timestamp: str) -> str:
    """What the dialplan's ``${SHA1(${K_OUT}${SHA1(${K_IN}:script:UNIQUEID:EPOCH)})}`` gives."""
    inner = hashlib.sha1(f"{keys.inner}:{script}:{uniqueid}:{timestamp}".encode()).hexdigest()
    return hashlib.sha1(f"{keys.outer}{inner}".encode()).hexdigest()


def _query(script: str) -> dict[str, str]:
    """``ivr?t=1&p=ab`` → ``{"t": "1", "p": "ab"}`` (first value of each; never raises)."""
    _, _, query = script.partition("?")
    return {k: v[0] for k, v in parse_qs(query, keep_blank_values=True).items() if v}


class AgiAuth:
    """Checks the proof each FastAGI session carries (see the module docstring)."""

    def __init__(
        self,
        secret: str,
        *,
        window_s: float = 30.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if window_s <= 0:
            raise ValueError("the proof window must be positive seconds")
        self.keys = agi_keys(secret)
        self.window_s = window_s
        self._clock = clock
        self._seen: OrderedDict[str, float] = OrderedDict()  # proof -> its timestamp

    def check(self, script: str, env: Mapping[str, str]) -> str | None:
        """None if the session ``env`` (its ``agi_*`` variables) proves it comes from our
        dialplan for ``script`` (the route, e.g. ``ivr``); else the reason, for the log.
        A proof accepted once is refused afterwards."""
        query = _query(env.get("agi_network_script", ""))
        stamp, proof = query.get("t", ""), query.get("p", "")
        if not stamp or not proof:
            return "no proof"
        try:
            when = int(stamp)
        except ValueError:
            return "malformed proof time"
        now = self._clock()
        if abs(now - when) > self.window_s:
            return f"proof time off by {now - when:.0f} s (window {self.window_s:g} s)"
        expected = agi_proof(self.keys, script, env.get("agi_uniqueid", ""), stamp)
        if not hmac.compare_digest(expected.encode(), proof.lower().encode()):
            return "wrong proof"
        self._forget(now)
        if expected in self._seen:
            return "proof used before (replay)"
        self._seen[expected] = when
        while len(self._seen) > _SEEN_MAX:
            self._seen.popitem(last=False)
        return None

    def _forget(self, now: float) -> None:
        """Drop proofs that their time refuses anyway (mostly oldest first)."""
        while self._seen:
            proof, when = next(iter(self._seen.items()))
            if now - when <= self.window_s:
                break
            del self._seen[proof]


def is_loopback(host: str) -> bool:
    """True for a loopback address or ``localhost`` (what the server binds by default)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class PeerFilter:
    """The addresses FastAGI connections may come from (networks in CIDR notation)."""

    def __init__(self, networks: Iterable[str] = DEFAULT_ALLOWED_PEERS) -> None:
        self.networks = [ipaddress.ip_network(n, strict=False) for n in networks]

    def allows(self, peer: object) -> bool:
        """``peer`` as ``get_extra_info("peername")`` gives it: ``(host, port, ...)``."""
        if not isinstance(peer, tuple) or not peer:
            return False
        try:
            addr = ipaddress.ip_address(str(peer[0]).split("%", 1)[0])
        except ValueError:
            return False
        if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
            addr = addr.ipv4_mapped
        return any(addr.version == n.version and addr in n for n in self.networks)
