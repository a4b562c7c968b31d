"""Collection cases: queues, assignment, contacts, promises, plans, settlements, audit."""
