"""The conference domain's refusals; the API turns each into its status (Vietnamese words)."""

from __future__ import annotations

__all__ = [
    "ConferenceConflict",
    "ConferenceError",
    "ConferenceNotFound",
    "InvalidConference",
    "NotAllowed",
    "PbxDown",
]


class ConferenceError(Exception):
    """Base of the refusals; ``str()`` is the Vietnamese sentence a commander reads."""


class ConferenceNotFound(ConferenceError, LookupError):
    """No such conference or point, or the caller may not see it (404: ids cannot be probed)."""


class InvalidConference(ConferenceError, ValueError):
    """The request names nothing to call, an unknown place or team, a bad number (422)."""


class NotAllowed(ConferenceError):
    """The caller may not do this: a center outside its place, a team that is no center (403)."""


class ConferenceConflict(ConferenceError):
    """Not from where the conference or the point is now, e.g. a control once it ended (409)."""


class PbxDown(ConferenceError):
    """Asterisk could not be reached to carry out a control (503)."""
