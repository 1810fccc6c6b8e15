"""Security notices: content-free emails telling a person that their sign-in details changed.

allauth already tells the old address of a new primary address, and the primary address of a
password change or a removed address (``ACCOUNT_EMAIL_NOTIFICATIONS``). These receivers add what
it leaves out: the primary address hears when an address is added, and a removed address hears
that it was removed (after a takeover it is the one the owner still reads).
"""

from __future__ import annotations

from typing import Any

from allauth.account.adapter import get_adapter
from allauth.account.signals import email_added, email_removed
from django.dispatch import receiver
from django.http import HttpRequest


@receiver(email_added)
def tell_of_added_address(
    sender: Any, request: HttpRequest, user: Any, email_address: Any, **kwargs: Any
) -> None:
    # The new address is not primary yet: this goes to the address the owner signs in with.
    get_adapter(request).send_notification_mail("account/email/email_added", user)


@receiver(email_removed)
def tell_the_removed_address(
    sender: Any, request: HttpRequest, user: Any, email_address: Any, **kwargs: Any
) -> None:
    get_adapter(request).send_notification_mail(
        "account/email/email_deleted", user, email=email_address.email
    )
