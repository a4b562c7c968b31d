"""Strategy: specs, segments, decisions, champion/challenger arms, hold-outs and what-if runs."""
