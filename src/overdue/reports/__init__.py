"""Reports built from the book and its snapshots (monitoring report; later: daily report, exports)."""
