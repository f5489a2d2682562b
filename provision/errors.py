"""The one error of provisioning, so that every step can raise it without importing another."""

__all__ = ["AsteriskError"]


class AsteriskError(RuntimeError):
    """Asterisk could not be provisioned, configured, started or stopped."""
