"""queues: categories to queues, agents in queues, live queue state and call records."""
