"""Treatment plans: problems, measurable goals, interventions, signed versions."""
