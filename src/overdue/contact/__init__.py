"""Contact: templates, the outbox, the dispatcher, channel adapters and inbound events."""
