"""Who reaches billing, in one place.

- A client's therapists in active care read the client's billing, confirm and edit the proposed
  lines they render, and set the client's sliding-scale fee.
- Practice admins and billing staff (``Role.BILLING``) read every client's billing, bill lines,
  correct billed lines, and keep the fee schedule and the billing settings. Billing staff reach
  nothing else of the record: no notes, no diagnoses page, no timeline; a line carries the codes
  it needs.
- Clients do not open these pages (their invoices and superbills reach them through the portal).
- Invoices, payments and write-offs (``rapport.billing.ledger``) follow the client's billing: the
  client's therapists read them; the billing office issues and voids invoices and records
  payments and write-offs. A client reads their own invoices and statements in the portal
  (``own_billing``, ``access_own_invoice``), nobody else's.

Everyone else gets 404 for a client or line (unknown and someone else's alike) and 403 for a
practice page. Every granted read of a client's billing is audited here.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest

from rapport.accounts.models import Role, User
from rapport.audit.services import Action, record
from rapport.billing.models import (
    BillingLine,
    ClientFee,
    Invoice,
    InvoiceStatus,
    LineStatus,
    Payment,
    Refund,
    WriteOff,
)
from rapport.care.access import in_active_care
from rapport.scheduling.models import Appointment
from rapport.visits.models import Visit

if TYPE_CHECKING:
    from rapport.billing.models import Invoice

# The roles that keep the practice's billing (besides a client's own therapists).
BILLING_OFFICE = {Role.ADMIN, Role.BILLING}


def is_billing_office(user: User) -> bool:
    return user.is_active and user.role in BILLING_OFFICE


def may_see_billing(user: User, client: User) -> bool:
    if not (user.is_active and client.is_client):
        return False
    if is_billing_office(user):
        return True
    return user.is_therapist and in_active_care(user, client)


def access_billing(
    user: User, client_id: int, *, request: HttpRequest | None = None, purpose: str = "billing"
) -> User:
    """The client ``client_id`` if ``user`` may see their billing; otherwise 404. Audited."""
    client = User.objects.filter(pk=client_id, role=Role.CLIENT).first()
    if client is None or not may_see_billing(user, client):
        raise Http404("No such client.")
    record(
        Action.BILLING_VIEWED,
        actor=user,
        request=request,
        obj=client,
        client=client,
        purpose=purpose,
    )
    return client


# --- Superbills ----------------------------------------------------------------------------------


class SuperbillReach:
    """How a superbill was reached: recorded with each download."""

    SELF = "self"
    CARE = "care"
    OFFICE = "office"


def access_superbill(
    user: User, client_id: int, *, request: HttpRequest | None = None
) -> tuple[User, str]:
    """The client whose superbills ``user`` may download, and how: the client themselves, their
    therapists in active care, the billing office (as for their billing, audited as a read of
    it). Everyone else (another client included) gets 404."""
    if user.is_active and user.is_client and user.pk == client_id:
        return user, SuperbillReach.SELF
    client = access_billing(user, client_id, request=request, purpose="superbill")
    return client, SuperbillReach.OFFICE if is_billing_office(user) else SuperbillReach.CARE


def superbill_invoice(client: User, invoice_id: int) -> Invoice:
    """An invoice of a client reached through ``access_superbill``; otherwise 404 (whether it
    is issued, ``superbill.build_superbill`` says)."""
    invoice = client.invoices.filter(pk=invoice_id).first()
    if invoice is None:
        raise Http404("No such invoice.")
    return invoice


def access_visit_billing(user: User, visit_uid: uuid.UUID, *, request: HttpRequest | None) -> Visit:
    """A session whose billing ``user`` may see (through its client); otherwise 404. Audited."""
    visit = Visit.objects.select_related("client", "therapist").filter(uid=visit_uid).first()
    if visit is None or not may_see_billing(user, visit.client):
        raise Http404("No such session.")
    record(
        Action.BILLING_VIEWED,
        actor=user,
        request=request,
        obj=visit,
        client=visit.client,
        purpose="session",
    )
    return visit


def access_line(
    user: User,
    line_id: int,
    *,
    request: HttpRequest | None = None,
    confirm: bool = False,
    correct: bool = False,
    lock: bool = False,
) -> BillingLine:
    """One billing line ``user`` may see; otherwise 404.

    ``confirm=True``: the rendering therapist in active care, or the billing office (to confirm,
    edit or void an unbilled line). ``correct=True``: the billing office only (a credit and a
    rebill of a billed line). ``lock=True`` (in a transaction) locks the row. Audited."""
    rows = BillingLine.objects.select_related("client", "therapist")
    if lock:
        rows = rows.select_for_update(of=("self",))
    line = rows.filter(pk=line_id).first()
    if line is None or not may_see_billing(user, line.client):
        raise Http404("No such billing line.")
    office = is_billing_office(user)
    if correct and not office:
        raise Http404("No such billing line.")
    if confirm and not (office or line.therapist_id == user.pk):
        raise Http404("No such billing line.")
    record(
        Action.BILLING_VIEWED,
        actor=user,
        request=request,
        obj=line,
        client=line.client,
        purpose="line",
    )
    return line


def lines_of(client: User) -> QuerySet[BillingLine]:
    """Every billing line of a client the caller reached through ``access_billing``."""
    return BillingLine.objects.filter(client=client).select_related("therapist", "corrects")


def require_billing_office(user: User) -> None:
    """The fee schedule and the billing settings: practice admins and billing staff only."""
    if not is_billing_office(user):
        raise PermissionDenied("billing is kept by practice admins and billing staff")


def billing_clients(user: User) -> QuerySet[User]:
    """The clients whose billing ``user`` may list: everyone for the office, else the caseload."""
    clients = User.objects.filter(role=Role.CLIENT)
    if is_billing_office(user):
        return clients
    if user.is_therapist and user.is_active:
        return clients.filter(
            is_active=True,
            care_relationships__therapist=user,
            care_relationships__status="active",
        ).distinct()
    raise PermissionDenied("billing is not available for your role")


def waiting_lines(user: User) -> QuerySet[BillingLine]:
    """Lines waiting for ``user``: the office's to bill and everyone's to confirm; a
    therapist's own proposed and confirmed lines of clients still in their care."""
    lines = BillingLine.objects.filter(
        client__in=billing_clients(user), status__in=[LineStatus.PROPOSED, LineStatus.CONFIRMED]
    ).select_related("client", "therapist")
    if not is_billing_office(user):
        lines = lines.filter(therapist=user)
    return lines.order_by("status", "date_of_service", "pk")


def lines_of_visit(visit: Visit) -> QuerySet[BillingLine]:
    """The lines of a session reached through ``access_visit_billing``."""
    return BillingLine.objects.filter(visit=visit).select_related("therapist").order_by("pk")


def client_fees_of(client: User) -> QuerySet[ClientFee]:
    """The sliding-scale fees of a client reached through ``access_billing``."""
    return ClientFee.objects.filter(client=client).select_related("service")


def access_client_fee(user: User, client: User, fee_id: int) -> ClientFee:
    """One sliding-scale fee of a client reached through ``access_billing``; otherwise 404."""
    fee = ClientFee.objects.filter(pk=fee_id, client=client).first()
    if fee is None:
        raise Http404("No such fee.")
    return fee


def access_missed_appointment(user: User, client: User, appointment_id: int) -> Appointment:
    """A missed appointment of a client reached through ``access_billing``, for its fee: the
    billing office, or the therapist it was with; otherwise 404."""
    appointment = Appointment.objects.filter(pk=appointment_id, client=client).first()
    if appointment is None or not (is_billing_office(user) or appointment.therapist_id == user.pk):
        raise Http404("No such appointment.")
    return appointment


# --- The ledger ----------------------------------------------------------------------------------


def access_invoice(
    user: User,
    invoice_id: int,
    *,
    request: HttpRequest | None = None,
    change: bool = False,
) -> Invoice:
    """One invoice ``user`` may see through its client's billing; otherwise 404. ``change=True``:
    the billing office only (void it, write part of it off). Audited."""
    invoice = Invoice.objects.select_related("client", "issued_by").filter(pk=invoice_id).first()
    if invoice is None or not may_see_billing(user, invoice.client):
        raise Http404("No such invoice.")
    if change and not is_billing_office(user):
        raise Http404("No such invoice.")
    record(
        Action.BILLING_VIEWED,
        actor=user,
        request=request,
        obj=invoice,
        client=invoice.client,
        purpose="invoice",
    )
    return invoice


def invoices_of(client: User) -> QuerySet[Invoice]:
    """A client's invoices (drafts aside), newest first, for a caller who reached the client
    through ``access_billing`` or ``own_billing``."""
    return (
        Invoice.objects.filter(client=client)
        .exclude(status=InvoiceStatus.DRAFT)
        .select_related("issued_by")
        .order_by("-issued_on", "-pk")
    )


def payments_of(client: User) -> QuerySet[Payment]:
    return (
        Payment.objects.filter(client=client)
        .select_related("recorded_by")
        .prefetch_related("allocations__invoice")
        .order_by("-received_on", "-pk")
    )


def refunds_of(client: User) -> QuerySet[Refund]:
    return (
        Refund.objects.filter(client=client)
        .select_related("recorded_by")
        .order_by("-refunded_on", "-pk")
    )


def write_offs_of(client: User) -> QuerySet[WriteOff]:
    return (
        WriteOff.objects.filter(client=client)
        .select_related("invoice", "recorded_by")
        .order_by("-written_off_on", "-pk")
    )


def own_billing(user: User, *, request: HttpRequest | None = None, purpose: str) -> User:
    """The signed-in client themself, to read their own invoices and statements. Audited."""
    if not (user.is_active and user.is_client):
        raise Http404("No billing.")
    record(Action.BILLING_VIEWED, actor=user, request=request, client=user, purpose=purpose)
    return user


def access_own_invoice(
    user: User, invoice_id: int, *, request: HttpRequest | None = None
) -> Invoice:
    """One of the signed-in client's own issued or void invoices; anyone else's is 404 (as is
    an unknown one). Audited."""
    if not (user.is_active and user.is_client):
        raise Http404("No such invoice.")
    invoice = invoices_of(user).filter(pk=invoice_id).first()
    if invoice is None:
        raise Http404("No such invoice.")
    record(
        Action.BILLING_VIEWED,
        actor=user,
        request=request,
        obj=invoice,
        client=user,
        purpose="my_invoice",
    )
    return invoice
