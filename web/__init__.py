"""The pages the service serves: sign-in, the agent's console, offline API docs (issue 12).

Templates, scripts and styles ship in this package; nothing is loaded from the internet."""

from web.pages import create_pages

__all__ = ["create_pages"]
