"""Every call recorded as evidence (issue 15): the files, their SHA-256 chain, retention,
legal holds, the purge, and who listened.

``recordings.service.RecordingService`` is the face the API uses; ``recordings.chain`` and
``recordings.retention`` are pure; ``recordings.errors`` the refusals; ``recordings.shapes``
what the service hands out.
"""
