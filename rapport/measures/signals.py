"""Signals measures sends to the apps above it.

``progress_sections``: the progress pages ask the apps above measures (which it may not
import) for sections of their own about the client's scores, such as the treatment plan's goals
computed from them. Sent with ``client`` (already reached through an accessor), ``viewer`` and
``how`` (``rapport.care.access.Reach``); a receiver returns HTML rendered by a template (a
``SafeString``) or ``None``.
"""

from __future__ import annotations

from django.dispatch import Signal
from django.utils.safestring import SafeString

from rapport.accounts.models import User

progress_sections = Signal()


def sections_for(client: User, *, viewer: User, how: str) -> list[SafeString]:
    """The sections the apps above measures add to a progress page, in receiver order."""
    answers = progress_sections.send(sender=User, client=client, viewer=viewer, how=how)
    # Only HTML a template rendered (a SafeString) is shown; a plain str is never marked safe.
    return [html for _receiver, html in answers if isinstance(html, SafeString) and html]
