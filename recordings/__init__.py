"""Every call recorded as evidence (issue 15): the files, their SHA-256 chain, retention,
legal holds, the purge, and who listened."""
