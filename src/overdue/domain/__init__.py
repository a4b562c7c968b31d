"""Pure business rules: no I/O, no clock, nothing imported from the rest of the project."""
