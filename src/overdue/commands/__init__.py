"""CLI commands, one module per business command. Each module defines ``register(app)``.

``overdue.cli`` discovers the modules here, so adding a command never edits a shared file.
"""
