"""``python -m overdue`` runs the command line."""

from overdue.cli import main

main()
