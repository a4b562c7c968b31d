"""Compliance: the profiles (cn, us), the gate every contact passes, wording checks on templates."""
