class PlanError(ValueError):
    """A plan change that cannot be made as asked; the message is for the person."""
