"""The client's email when an invoice is issued: content-free ("A new statement is ready in
Rapport"), no amount, no number, no service; the link opens the client's billing page after
sign-in. One delivery per invoice (the outbox key), sent after the invoice commits."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation

from rapport.accounts.models import Practice
from rapport.billing.models import Invoice
from rapport.core import outbox


def invoice_issued(invoice: Invoice) -> bool:
    """Inside the issuing transaction: record the client's email (once per invoice) and send it
    after commit. False when the client has no address or is inactive, or it was recorded."""
    client = invoice.client
    if not client.is_active or not client.email:
        return False
    link = f"{settings.SITE_URL}{reverse('my_billing')}"
    with translation.override(client.language):
        context = {"practice": Practice.get(), "person": client, "link": link}
        subject = render_to_string("billing/email/statement_ready_subject.txt", context)
        body = render_to_string("billing/email/statement_ready.txt", context)
    message = EmailMessage(
        subject=" ".join(subject.split()),
        body=body,
        to=[client.email],
        headers={"Auto-Submitted": "auto-generated"},
    )
    delivery = outbox.record(message, key=f"invoice-issued:{invoice.pk}", kind="statement")
    if delivery is None:
        return False
    # A failed send stays pending: the worker's sweep tries again (rapport.core.outbox).
    transaction.on_commit(lambda: outbox.send(delivery, message))
    return True
