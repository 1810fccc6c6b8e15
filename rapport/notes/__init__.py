"""Progress and psychotherapy notes: templates, drafts, sign and lock, addenda."""
