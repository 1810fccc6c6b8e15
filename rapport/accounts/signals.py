"""What the accounts app tells the apps above it (they connect in their ``AppConfig.ready``)."""

from django.dispatch import Signal

# An invitation was accepted and its account created, inside that transaction: receivers write
# in the same transaction (care starts a therapist's care of the client they invited).
# Arguments: ``invitation``, ``user`` (the new account), ``request``.
invitation_accepted = Signal()
