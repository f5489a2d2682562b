"""Exceptions of the PBX layer: what can go wrong talking AMI or AGI to Asterisk.

Every exception here is a ``PbxError`` so a caller that only wants "the PBX failed" catches one
class; the subclasses say what to do next (fix credentials, retry later, give up on the call).
"""

from __future__ import annotations

__all__ = [
    "AgiCommandError",
    "AgiHangup",
    "AmiActionError",
    "AmiActionTimeout",
    "AmiAuthError",
    "AmiNotConnected",
    "PbxError",
    "PbxUnavailable",
]


class PbxError(Exception):
    """Base class of every error raised by ``pbx``."""


class PbxUnavailable(PbxError):
    """Asterisk could not be reached or did not answer in time.

    After a timeout the change may or may not have happened; adding a member who is already
    there and removing one who is not both succeed, so trying again is safe. Domain ports
    (``queues.ports``) name it as what their PBX raises.
    """


class AmiAuthError(PbxError):
    """Asterisk refused the AMI username/secret; retrying with the same ones cannot help."""


class AmiNotConnected(PbxError):
    """The AMI link is down (or went down while waiting): the action was not sent, or its fate
    is unknown. Nothing is queued for later: the caller decides whether to try again."""


class AmiActionTimeout(PbxError):
    """Asterisk did not (completely) answer an action in time; the action may still have run."""

    def __init__(self, action: str, timeout: float) -> None:
        super().__init__(f"no complete answer to AMI action {action} within {timeout:g} s")
        self.action = action
        self.timeout = timeout


class AmiActionError(PbxError):
    """Asterisk answered ``Response: Error``; ``message`` is Asterisk's own ``Message:`` text."""

    def __init__(self, action: str, message: str, response: dict[str, str] | None = None) -> None:
        super().__init__(f"AMI action {action} failed: {message or 'no reason given'}")
        self.action = action
        self.message = message
        self.response: dict[str, str] = dict(response or {})


class AgiHangup(PbxError):
    """The caller hung up, or the AGI socket closed, during an AGI command.

    A normal IVR outcome, not a bug: handlers let it propagate and the server logs it quietly.
    """


class AgiCommandError(PbxError):
    """An AGI command was rejected (510/520) or failed on a live channel (``result=-1``,
    e.g. a missing prompt file), or Asterisk did not answer it in time."""
