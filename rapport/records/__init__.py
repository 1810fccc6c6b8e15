"""The client record as a whole: one timeline, and the record to take away."""
