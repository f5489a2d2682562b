"""One router per resource: health, calls, queues, agents."""
