"""The superbill: what a client hands their insurer to claim out-of-network reimbursement.

Built from billed (locked) session lines only: proposed and confirmed lines are not on it yet, void
lines never. A billed credit nets out the charge it corrects (both leave the superbill) and the
corrected charge (a rebill names the same charge) carries what was paid on the one it replaced,
so a credit and rebill reads as the corrected service alone. Fees for missed sessions are not
services and are left off.

A superbill covers a date range of dates of service (at most ``MAX_DAYS``) or one invoice, and
names every rendering provider with their NPI, credentials and licence. It is refused, with
what is missing, when the practice's or a provider's details a superbill must carry are not
filled in. The amounts are integer minor units in the practice currency; "paid" is what payments
allocated to the lines' invoices paid of each line (``ledger.paid_for_lines``).

Procedure codes are printed with the practice's own labels from its fee schedule (the code
descriptors are copyrighted); diagnoses with the public-domain ICD-10-CM descriptions.

The client's date of birth and postal address come from their record (``care.ClientProfile``);
where one is not filled in, the superbill leaves a line to write it on.

The caller has reached the client through ``rapport.billing.access``; ``render_pdf`` audits each
download.
"""

from __future__ import annotations

import string
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import weasyprint
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _

from rapport.accounts.models import Practice, User
from rapport.audit.services import Action, record
from rapport.billing.ledger import paid_for_lines
from rapport.billing.models import (
    BillingLine,
    BillingSettings,
    Invoice,
    InvoiceStatus,
    LineItem,
    LineKind,
    LineStatus,
    ProviderDetails,
    Service,
)
from rapport.billing.services import BillingError
from rapport.care.access import profile_of
from rapport.diagnoses import icd

PRINT_CSS = str(Path(__file__).parent / "static" / "billing" / "superbill_print.css")

# The longest range one superbill covers (a year, leap day included).
MAX_DAYS = 366


class NoLockedLines(BillingError):
    def __init__(self) -> None:
        super().__init__(
            _("No billed services in this period: a superbill lists billed services only.")
        )


@dataclass(frozen=True)
class Missing:
    """A detail a superbill must carry that nobody has filled in yet. ``therapist_id`` names the
    provider whose details are missing (None: the practice's billing settings)."""

    what: str
    therapist_id: int | None = None


class DetailsMissing(BillingError):
    def __init__(self, missing: list[Missing]) -> None:
        self.missing = missing
        super().__init__(
            _("A superbill cannot be made until these details are filled in: %(list)s.")
            % {"list": "; ".join(m.what for m in missing)}
        )


@dataclass(frozen=True)
class Diagnosis:
    pointer: str  # A, B, C...
    code: str
    description: str


@dataclass(frozen=True)
class Provider:
    therapist_id: int
    name: str
    credentials: str
    licence_number: str
    licence_state: str
    npi: str


@dataclass(frozen=True)
class Row:
    """One service: a billed charge no billed credit has taken back."""

    line_id: int
    date_of_service: date
    cpt_code: str
    label: str
    add_ons: list[str]
    modifiers: str
    place_of_service: str
    pointers: str  # "A,B"
    units: int
    fee: int  # per unit
    charge: int  # fee x units
    paid: int
    provider: Provider


@dataclass
class Superbill:
    client: User
    start: date
    end: date
    currency: str
    practice_name: str
    practice_address: str
    practice_phone: str
    tax_id: str
    invoice_number: str = ""
    date_of_birth: date | None = None
    postal_address: str = ""
    providers: list[Provider] = field(default_factory=list)
    diagnoses: list[Diagnosis] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)
    generated_at: datetime | None = None

    @property
    def total_charges(self) -> int:
        return sum(row.charge for row in self.rows)

    @property
    def total_paid(self) -> int:
        return sum(row.paid for row in self.rows)

    @property
    def balance(self) -> int:
        return self.total_charges - self.total_paid

    @property
    def line_ids(self) -> list[int]:
        return [row.line_id for row in self.rows]


def check_range(start: date, end: date) -> None:
    """``BillingError`` unless ``start``..``end`` is a range a superbill may cover."""
    if start > end:
        raise BillingError(_("The first day must be on or before the last day."))
    days = (end - start).days + 1
    if days > MAX_DAYS:
        raise BillingError(
            _("A superbill covers at most %(max)s days; this range has %(days)s.")
            % {"max": MAX_DAYS, "days": days}
        )


def standing_lines(lines: list[BillingLine]) -> tuple[list[BillingLine], dict[int, list[int]]]:
    """The billed charges of ``lines`` (billed lines of one client) that no billed credit
    among them takes back, in order of date of service; and for each, the earlier charges it
    replaced (a rebill names the charge it corrects), whose payments it carries."""
    credited = {
        line.corrects_id
        for line in lines
        if line.kind == LineKind.CREDIT and line.status == LineStatus.BILLED
    }
    charges = [
        line
        for line in lines
        if line.kind == LineKind.CHARGE
        and line.status == LineStatus.BILLED
        and line.item == LineItem.SESSION
    ]
    by_id = {line.pk: line for line in charges}
    replaced: dict[int, list[int]] = defaultdict(list)
    standing = []
    for line in sorted(charges, key=lambda row: row.pk):
        if line.pk in credited:
            continue
        standing.append(line)
        # Follow the chain of corrections back: rebill -> the charge it replaced -> ...
        earlier = line.corrects_id
        while earlier is not None and earlier in by_id and earlier in credited:
            replaced[line.pk].append(earlier)
            earlier = by_id[earlier].corrects_id
    standing.sort(key=lambda row: (row.date_of_service, row.pk))
    return standing, dict(replaced)


def _billed(client: User) -> list[BillingLine]:
    return list(
        BillingLine.objects.filter(client=client, status=LineStatus.BILLED).select_related(
            "therapist"
        )
    )


def superbill_months(client: User) -> list[date]:
    """The first day of each month with a billed service of ``client``, newest first."""
    standing, _replaced = standing_lines(_billed(client))
    return sorted({line.date_of_service.replace(day=1) for line in standing}, reverse=True)


def _practice_missing(settings: BillingSettings) -> list[Missing]:
    missing = []
    if not settings.address.strip():
        missing.append(Missing(_("the practice address")))
    if not settings.phone.strip():
        missing.append(Missing(_("the practice phone")))
    if not settings.tax_id:
        missing.append(Missing(_("the practice tax id (EIN)")))
    return missing


def _provider(therapist: User, details: ProviderDetails | None) -> tuple[Provider, list[Missing]]:
    provider = Provider(
        therapist_id=therapist.pk,
        name=therapist.full_name,
        credentials=details.credentials if details else "",
        licence_number=details.licence_number if details else "",
        licence_state=details.licence_state if details else "",
        npi=details.npi if details else "",
    )
    missing = []
    for attribute, label in [
        ("npi", _("NPI")),
        ("credentials", _("credentials")),
        ("licence_number", _("licence number")),
        ("licence_state", _("licence state")),
    ]:
        if not getattr(provider, attribute).strip():
            missing.append(
                Missing(
                    _("the %(detail)s of %(name)s")
                    % {"detail": label, "name": therapist.full_name},
                    therapist.pk,
                )
            )
    return provider, missing


def _letters(count: int) -> list[str]:
    """A, B, ... Z, AA, AB, ... (a claim form has room for twelve)."""
    letters = list(string.ascii_uppercase)
    out = []
    for index in range(count):
        word = ""
        index += 1
        while index:
            index, rest = divmod(index - 1, 26)
            word = letters[rest] + word
        out.append(word)
    return out


def _add_on_text(add_ons: list[dict[str, object]]) -> list[str]:
    texts = []
    for add_on in add_ons:
        code = str(add_on.get("code", ""))
        units = add_on.get("units", 1)
        texts.append(
            _("%(code)s (%(units)s units)") % {"code": code, "units": units}
            if units not in (1, "1")
            else code
        )
    return texts


def build_superbill(
    client: User,
    *,
    start: date | None = None,
    end: date | None = None,
    invoice: Invoice | None = None,
) -> Superbill:
    """The superbill of ``client`` for the dates of service ``start``..``end``, or for the
    billed lines of ``invoice`` (an issued invoice of the client). Raises ``BillingError`` for a
    bad range, ``NoLockedLines`` when no billed service is in it, ``DetailsMissing`` when the
    practice's or a provider's details are not filled in. Reads only."""
    billed = _billed(client)
    if invoice is not None:
        if invoice.client_id != client.pk or invoice.status != InvoiceStatus.ISSUED:
            raise BillingError(_("Choose an issued invoice of this client."))
        on_invoice = set(invoice.entries.filter(live=True).values_list("line_id", flat=True))
        lines = [line for line in billed if line.pk in on_invoice]
        start, end = invoice.period_start, invoice.period_end
    else:
        if start is None or end is None:
            raise BillingError(_("Choose the first and the last day."))
        check_range(start, end)
        lines = [line for line in billed if start <= line.date_of_service <= end]
    # Credits of charges from this range may be billed together with them; look at every billed
    # line of the client for credits and corrections, then keep the range's.
    standing, replaced = standing_lines(billed)
    wanted = {line.pk for line in lines}
    standing = [line for line in standing if line.pk in wanted]
    if not standing:
        raise NoLockedLines

    settings = BillingSettings.get()
    currency = settings.currency
    if any(line.currency != currency for line in standing):
        raise BillingError(
            _("Some services are not in the practice currency (%(currency)s).")
            % {"currency": currency}
        )
    missing = _practice_missing(settings)
    details = {
        row.therapist_id: row
        for row in ProviderDetails.objects.filter(
            therapist_id__in={line.therapist_id for line in standing}
        )
    }
    providers: dict[int, Provider] = {}
    for line in standing:
        if line.therapist_id not in providers:
            provider, lacking = _provider(line.therapist, details.get(line.therapist_id))
            providers[line.therapist_id] = provider
            missing += lacking
    if missing:
        raise DetailsMissing(missing)
    profile = profile_of(client)

    codes: list[str] = []
    for line in standing:
        for code in line.diagnosis_codes:
            if code not in codes:
                codes.append(code)
    letters = dict(zip(codes, _letters(len(codes)), strict=True))
    diagnoses = []
    for code in codes:
        known = icd.billable(code)
        diagnoses.append(Diagnosis(letters[code], code, known.description if known else ""))

    labels = dict(Service.objects.values_list("cpt_code", "label"))
    paid_ids = [line.pk for line in standing] + [pk for ids in replaced.values() for pk in ids]
    paid = paid_for_lines(paid_ids)
    rows = [
        Row(
            line_id=line.pk,
            date_of_service=line.date_of_service,
            cpt_code=line.cpt_code,
            label=labels.get(line.cpt_code, ""),
            add_ons=_add_on_text(line.add_ons),
            modifiers=", ".join(line.modifier_list),
            place_of_service=line.place_of_service,
            pointers=",".join(letters[code] for code in line.diagnosis_codes),
            units=line.units,
            fee=line.fee,
            charge=line.fee * line.units,
            paid=paid[line.pk] + sum(paid[pk] for pk in replaced.get(line.pk, [])),
            provider=providers[line.therapist_id],
        )
        for line in standing
    ]
    return Superbill(
        client=client,
        start=start,
        end=end,
        currency=currency,
        practice_name=settings.legal_name.strip() or Practice.get().name,
        practice_address=settings.address.strip(),
        practice_phone=settings.phone.strip(),
        tax_id=settings.tax_id,
        invoice_number=(invoice.number or "") if invoice is not None else "",
        date_of_birth=profile.date_of_birth,
        postal_address="\n".join(
            line.strip() for line in profile.postal_address.splitlines() if line.strip()
        ),
        providers=list(providers.values()),
        diagnoses=diagnoses,
        rows=rows,
        generated_at=timezone.now(),
    )


def superbill_html(bill: Superbill) -> str:
    return render_to_string("billing/superbill_pdf.html", {"bill": bill})


@dataclass(frozen=True)
class SuperbillFile:
    content: bytes
    filename: str
    content_type: str = "application/pdf"


def render_pdf(
    bill: Superbill, *, actor: User, via: str, request: HttpRequest | None = None
) -> SuperbillFile:
    """The superbill as a PDF (WeasyPrint, like the record's), its download audited."""
    content = weasyprint.HTML(string=superbill_html(bill)).write_pdf(
        stylesheets=[weasyprint.CSS(filename=PRINT_CSS)]
    )
    if content is None:  # write_pdf returns None only when given a target to write to
        raise RuntimeError("WeasyPrint made no PDF")
    record(
        Action.SUPERBILL_DOWNLOADED,
        actor=actor,
        request=request,
        obj=bill.client,
        client=bill.client,
        start=bill.start.isoformat(),
        end=bill.end.isoformat(),
        invoice=bill.invoice_number,
        lines=bill.line_ids,
        charges=bill.total_charges,
        paid=bill.total_paid,
        via=via,
    )
    return SuperbillFile(
        content, f"superbill-{bill.start.isoformat()}-to-{bill.end.isoformat()}.pdf"
    )
