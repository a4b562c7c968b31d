"""overdue: overdue (逾期) management for consumer credit."""

__version__ = "0.1.0"
