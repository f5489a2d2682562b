"""dispatch: incidents and rapid-response teams (see the operations-center issue)."""
