"""Intake forms: practice-defined, sent to clients, drafted, submitted once."""
