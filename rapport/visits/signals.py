"""What the visits app tells the apps above it (they connect in their ``AppConfig.ready``)."""

from django.dispatch import Signal

# A visit ended and the end committed; ``visit_id`` names it. Measures asks for feedback on it.
visit_ended = Signal()
