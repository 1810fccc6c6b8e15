class DiagnosisError(ValueError):
    """A diagnosis that cannot be recorded or changed as asked; the message is for the person."""
