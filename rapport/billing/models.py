"""Billing facts: what the practice charges, who renders the service, and one line per charge.

Money is an integer count of the currency's minor units (cents) everywhere, never a float. A
billing line is proposed from the session's timeline (``rapport.billing.services``), confirmed by
the therapist with the note, and locked once billed: from then on the database itself refuses to
change or delete it (migration 0002). A mistake in a billed line is corrected by a credit line
that negates it and a new charge, never by an edit.

Invoices and payments live beside these models in their own migrations; they point at billing
lines, lines never point at them, so billing a line changes nothing but its status.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from rapport.core.encryption import EncryptedTextField
from rapport.scheduling.models import Appointment, SessionType
from rapport.visits.models import Visit

validate_currency = RegexValidator(
    r"^[A-Z]{3}$", _("Enter the ISO 4217 code of a currency, three capital letters, like USD.")
)
validate_cpt = RegexValidator(
    r"^[0-9]{4}[0-9A-Z]$", _("Enter a five-character procedure code, like 90834.")
)
validate_ein = RegexValidator(
    r"^[0-9]{2}-[0-9]{7}$", _("Enter the EIN as two digits, a dash and seven digits: 12-3456789.")
)
validate_modifier = RegexValidator(r"^[0-9A-Z]{2}$", _("A modifier is two letters or digits."))


def npi_is_valid(npi: str) -> bool:
    """The NPI check digit: Luhn over the nine digits prefixed with 80840 (the NPI standard)."""
    if len(npi) != 10 or not npi.isdigit():
        return False
    digits = [int(d) for d in "80840" + npi]
    total = 0
    for position, digit in enumerate(reversed(digits)):
        if position % 2 == 1:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


def validate_npi(value: str) -> None:
    if not npi_is_valid(value):
        raise ValidationError(_("An NPI is ten digits with a valid check digit."))


class ModifierRule(models.TextChoices):
    """How the telehealth modifier is chosen from the minutes per modality (rules.py)."""

    AUDIO_SHARE = "audio_share", _("Audio-only when its share of the minutes passes a threshold")
    ANY_VIDEO = "any_video", _("Audio-video whenever the session had any video")


class AudioOnlyModifier(models.TextChoices):
    MOD_93 = "93", _("93 (audio-only)")
    FQ = "FQ", _("FQ (audio-only, RHC/FQHC)")


class BillingSettings(models.Model):
    """The practice's billing details and policies (one row, like ``accounts.Practice``).

    The late-cancellation window is the practice's own (``Practice.late_cancel_hours``): the
    scheduling app marks an appointment cancelled within it, and the fee follows that mark."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    currency = models.CharField(
        _("currency"), max_length=3, default="USD", validators=[validate_currency]
    )
    legal_name = models.CharField(
        _("practice name on bills"),
        max_length=120,
        blank=True,
        help_text=_("Leave blank to use the practice name."),
    )
    address = models.TextField(_("practice address"), max_length=400, blank=True)
    phone = models.CharField(_("practice phone"), max_length=40, blank=True)
    tax_id = models.CharField(
        _("tax id (EIN)"), max_length=10, blank=True, validators=[validate_ein]
    )
    modifier_rule = models.CharField(
        _("telehealth modifier rule"),
        max_length=12,
        choices=ModifierRule.choices,
        default=ModifierRule.AUDIO_SHARE,
    )
    audio_only_percent = models.PositiveSmallIntegerField(
        _("bill as audio-only when audio-only minutes are more than this percent of the session"),
        default=50,
        validators=[MinValueValidator(0), MaxValueValidator(99)],
    )
    audio_only_modifier = models.CharField(
        _("audio-only modifier"),
        max_length=2,
        choices=AudioOnlyModifier.choices,
        default=AudioOnlyModifier.MOD_93,
    )
    no_show_fee = models.PositiveIntegerField(
        _("no-show fee (minor units)"),
        null=True,
        blank=True,
        help_text=_("Leave blank for no fee."),
    )
    late_cancel_fee = models.PositiveIntegerField(
        _("late-cancellation fee (minor units)"),
        null=True,
        blank=True,
        help_text=_("Leave blank for no fee."),
    )
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("billing settings")
        verbose_name_plural = _("billing settings")
        constraints = [
            models.CheckConstraint(condition=Q(id=1), name="billing_settings_single_row"),
            models.CheckConstraint(
                condition=Q(audio_only_percent__lte=99), name="billing_audio_percent_range"
            ),
        ]

    def __str__(self) -> str:
        return "billing settings"

    @classmethod
    def get(cls) -> BillingSettings:
        row, _created = cls.objects.get_or_create(id=1)
        return row


class ProviderDetails(models.Model):
    """What a superbill says about the rendering therapist."""

    therapist = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="billing_details"
    )
    npi = models.CharField(_("NPI"), max_length=10, blank=True, validators=[validate_npi])
    credentials = models.CharField(
        _("credentials"), max_length=40, blank=True, help_text=_("For example LCSW or PsyD.")
    )
    licence_number = models.CharField(_("licence number"), max_length=40, blank=True)
    licence_state = models.CharField(_("licence state or jurisdiction"), max_length=40, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"billing details of {self.therapist_id}"


class Service(models.Model):
    """A row of the practice's fee schedule: a procedure code, our own label, the usual fee.

    The label is Rapport's (or the practice's) own words: the official code descriptors are
    copyrighted and are not shipped."""

    cpt_code = models.CharField(_("code"), max_length=5, unique=True, validators=[validate_cpt])
    label = models.CharField(_("label"), max_length=80)
    fee = models.PositiveIntegerField(_("fee (minor units)"))
    is_active = models.BooleanField(_("offered"), default=True)

    class Meta:
        ordering = ["cpt_code"]

    def __str__(self) -> str:
        return f"{self.cpt_code} {self.label}"


class TherapistFee(models.Model):
    """A therapist's own fee for a service, instead of the schedule's."""

    therapist = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="billing_fees"
    )
    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="therapist_fees")
    fee = models.PositiveIntegerField(_("fee (minor units)"))

    class Meta:
        ordering = ["therapist", "service"]
        constraints = [
            models.UniqueConstraint(fields=["therapist", "service"], name="one_fee_per_therapist")
        ]

    def __str__(self) -> str:
        return f"fee of {self.therapist_id} for {self.service_id}"


class ClientFee(models.Model):
    """A sliding-scale fee for one client: a fixed fee for one service, or a percentage of the
    fee that would otherwise apply (for one service, or every service when ``service`` is empty).
    The reason is the client's circumstances: encrypted."""

    client = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="billing_client_fees"
    )
    service = models.ForeignKey(
        Service, null=True, blank=True, on_delete=models.CASCADE, related_name="client_fees"
    )
    fee = models.PositiveIntegerField(_("fee (minor units)"), null=True, blank=True)
    percent = models.PositiveSmallIntegerField(
        _("percent of the usual fee"),
        null=True,
        blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(100)],
    )
    reason = EncryptedTextField(_("reason"), blank=True, default="")
    set_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    set_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["client", "service"]
        constraints = [
            models.UniqueConstraint(
                fields=["client", "service"], name="one_client_fee_per_service"
            ),
            models.UniqueConstraint(
                fields=["client"],
                condition=Q(service__isnull=True),
                name="one_client_fee_for_all_services",
            ),
            # Exactly one of a fee and a percentage; a fixed fee names its service.
            models.CheckConstraint(
                condition=(Q(fee__isnull=False, percent__isnull=True, service__isnull=False))
                | Q(fee__isnull=True, percent__isnull=False, percent__lte=100),
                name="client_fee_is_fee_or_percent",
            ),
        ]

    def __str__(self) -> str:
        return f"sliding fee of {self.client_id}"


class SessionKind(models.TextChoices):
    PSYCHOTHERAPY = "psychotherapy", _("Individual psychotherapy (code by minutes)")
    INTAKE = "intake", _("Diagnostic evaluation (intake)")
    FAMILY_WITHOUT_CLIENT = "family_without", _("Family psychotherapy, client not present")
    FAMILY_WITH_CLIENT = "family_with", _("Family psychotherapy, client present")
    CRISIS = "crisis", _("Psychotherapy for crisis")


class SessionTypeBilling(models.Model):
    """Which code family a therapist's session type bills under (psychotherapy when unset)."""

    session_type = models.OneToOneField(
        SessionType, on_delete=models.CASCADE, related_name="billing"
    )
    kind = models.CharField(
        _("bills as"), max_length=16, choices=SessionKind.choices, default=SessionKind.PSYCHOTHERAPY
    )

    def __str__(self) -> str:
        return f"{self.session_type_id}: {self.kind}"


class LineStatus(models.TextChoices):
    PROPOSED = "proposed", _("Proposed")
    CONFIRMED = "confirmed", _("Confirmed")
    BILLED = "billed", _("Billed (locked)")
    VOID = "void", _("Void")


class LineKind(models.TextChoices):
    CHARGE = "charge", _("Charge")
    CREDIT = "credit", _("Credit")


class LineItem(models.TextChoices):
    SESSION = "session", _("Session")
    NO_SHOW = "no_show", _("No-show fee")
    LATE_CANCEL = "late_cancel", _("Late-cancellation fee")


class PlaceOfService(models.TextChoices):
    TELEHEALTH_ELSEWHERE = "02", _("02 Telehealth, client not at home")
    TELEHEALTH_HOME = "10", _("10 Telehealth, client at home")


class BillingLine(models.Model):
    """One charge (or the credit that negates one) for a client's session or fee.

    ``fee`` is per unit and never negative; a credit's amount is negative by its kind. Once
    ``status`` is billed the row is locked: the database refuses any change to the columns
    below and any delete (migration 0002); erasure of the client's record is the one exception.
    No encrypted column lives here, so key rotation never needs to rewrite a locked row."""

    client = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="billing_lines"
    )
    therapist = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="rendered_billing_lines"
    )
    appointment = models.ForeignKey(
        Appointment, null=True, blank=True, on_delete=models.PROTECT, related_name="billing_lines"
    )
    visit = models.ForeignKey(
        Visit, null=True, blank=True, on_delete=models.PROTECT, related_name="billing_lines"
    )
    item = models.CharField(max_length=12, choices=LineItem.choices, default=LineItem.SESSION)
    date_of_service = models.DateField(_("date of service"))
    cpt_code = models.CharField(_("code"), max_length=5, blank=True, validators=[validate_cpt])
    # [{"code": "90840", "units": 2}, {"code": "90785", "units": 1}]
    add_ons = models.JSONField(_("add-on codes"), default=list, blank=True)
    modifiers = models.CharField(_("modifiers"), max_length=11, blank=True)  # "95" or "95,GA"
    place_of_service = models.CharField(
        _("place of service"), max_length=2, blank=True, choices=PlaceOfService.choices
    )
    # ICD-10-CM codes in pointer order (A, B, C, ...): the primary diagnosis first.
    diagnosis_codes = models.JSONField(_("diagnoses"), default=list, blank=True)
    units = models.PositiveSmallIntegerField(_("units"), default=1)
    fee = models.PositiveIntegerField(_("fee (minor units)"))
    currency = models.CharField(max_length=3, validators=[validate_currency])
    # The facts the proposal was made from (whole minutes) and what it could not decide.
    video_minutes = models.PositiveIntegerField(default=0)
    audio_minutes = models.PositiveIntegerField(default=0)
    text_minutes = models.PositiveIntegerField(default=0)
    proposal_note = models.CharField(max_length=300, blank=True)
    status = models.CharField(
        max_length=10, choices=LineStatus.choices, default=LineStatus.PROPOSED
    )
    kind = models.CharField(max_length=6, choices=LineKind.choices, default=LineKind.CHARGE)
    corrects = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="corrections"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    confirmed_at = models.DateTimeField(null=True, blank=True)
    billed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["client", "date_of_service", "pk"]
        indexes = [models.Index(fields=["client", "status"], name="billing_line_client_status")]
        constraints = [
            models.CheckConstraint(condition=Q(units__gte=1), name="billing_line_units_positive"),
            # A credit negates exactly one earlier line, and only once.
            models.CheckConstraint(
                condition=Q(kind="charge") | Q(corrects__isnull=False),
                name="billing_credit_names_its_line",
            ),
            models.UniqueConstraint(
                fields=["corrects"], condition=Q(kind="credit"), name="one_credit_per_line"
            ),
            # A session charge is confirmed or billed only with its code and place of service.
            models.CheckConstraint(
                condition=~Q(item="session", status__in=["confirmed", "billed"])
                | (~Q(cpt_code="") & ~Q(place_of_service="")),
                name="billing_session_line_complete",
            ),
            models.CheckConstraint(
                condition=Q(status="billed", billed_at__isnull=False) | ~Q(status="billed"),
                name="billing_billed_has_time",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.cpt_code or self.item} for {self.client_id}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        # The database refuses too (migration 0002); this says so before a round trip.
        if self.pk is not None:
            stored = BillingLine.objects.filter(pk=self.pk).values_list("status", flat=True)
            if stored.first() == LineStatus.BILLED:
                raise LockedLine
        super().save(*args, **kwargs)

    @property
    def amount(self) -> int:
        """What the line adds to the client's balance, in minor units (a credit is negative)."""
        total = self.fee * self.units
        return -total if self.kind == LineKind.CREDIT else total

    @property
    def is_locked(self) -> bool:
        return self.status == LineStatus.BILLED

    @property
    def modifier_list(self) -> list[str]:
        return [m for m in self.modifiers.split(",") if m]


class LockedLine(ValidationError):
    """A billed line was about to change: correct it with a credit and a new charge instead."""

    def __init__(self) -> None:
        super().__init__(_("This line is billed and locked: correct it with a credit instead."))


# --- The ledger: invoices, payments recorded by hand, write-offs ---------------------------------
#
# An invoice carries billed (locked) lines through ``InvoiceLine``; its total is fixed when it is
# issued. A payment is allocated to invoices; a write-off forgives part of one invoice. Each
# running sum (``Invoice.settled``, ``Payment.allocated``) is kept beside its rows by
# ``rapport.billing.ledger`` under row locks, so the database itself can refuse an over-allocation.


class InvoiceKind(models.TextChoices):
    PER_SESSION = "session", _("Per session")
    MONTHLY = "monthly", _("Monthly")


class InvoiceStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    ISSUED = "issued", _("Issued")
    VOID = "void", _("Void")


class InvoiceCounter(models.Model):
    """The last invoice number used in a year; its row is locked while a number is taken."""

    year = models.PositiveSmallIntegerField(primary_key=True)
    last = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"invoices of {self.year}: {self.last}"


class Invoice(models.Model):
    """A client's invoice: billed lines of one session or one period, in the practice currency.

    ``total`` is the sum of its lines' amounts (a credit makes it smaller, and an invoice of
    credits only is negative: a credit note). ``settled`` is what payments and write-offs have
    covered; it never passes the total."""

    client = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="invoices"
    )
    number = models.CharField(_("number"), max_length=20, unique=True, null=True, blank=True)
    kind = models.CharField(
        _("kind"), max_length=8, choices=InvoiceKind.choices, default=InvoiceKind.MONTHLY
    )
    period_start = models.DateField(_("from"))
    period_end = models.DateField(_("to"))
    currency = models.CharField(max_length=3, validators=[validate_currency])
    total = models.IntegerField(_("total (minor units)"), default=0)
    settled = models.PositiveIntegerField(_("paid or written off (minor units)"), default=0)
    status = models.CharField(
        max_length=6, choices=InvoiceStatus.choices, default=InvoiceStatus.DRAFT
    )
    issued_on = models.DateField(_("issued on"), null=True, blank=True)
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    issued_at = models.DateTimeField(null=True, blank=True)
    voided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    voided_at = models.DateTimeField(null=True, blank=True)
    void_reason = EncryptedTextField(_("reason"), blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["client", "issued_on", "pk"]
        indexes = [models.Index(fields=["client", "status"], name="billing_invoice_client_status")]
        constraints = [
            models.CheckConstraint(
                condition=Q(period_start__lte=models.F("period_end")),
                name="billing_invoice_period_order",
            ),
            models.CheckConstraint(
                condition=Q(settled=0) | Q(settled__lte=models.F("total")),
                name="billing_invoice_not_oversettled",
            ),
            models.CheckConstraint(
                condition=Q(status="draft")
                | Q(number__isnull=False, issued_on__isnull=False, issued_at__isnull=False),
                name="billing_invoice_issued_has_number",
            ),
            models.CheckConstraint(
                condition=~Q(status="void") | Q(settled=0), name="billing_void_invoice_unsettled"
            ),
        ]

    def __str__(self) -> str:
        return self.number or f"draft invoice {self.pk}"

    @property
    def outstanding(self) -> int:
        """What is still owed on this invoice (0 for a void invoice or a credit note)."""
        if self.status != InvoiceStatus.ISSUED:
            return 0
        return max(self.total - self.settled, 0)


class InvoiceLine(models.Model):
    """A billed line on an invoice, with its amount when issued. A line is on at most one live
    (not void) invoice: the partial unique constraint refuses a second."""

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="entries")
    line = models.ForeignKey(BillingLine, on_delete=models.PROTECT, related_name="invoice_entries")
    amount = models.IntegerField()
    live = models.BooleanField(default=True)

    class Meta:
        ordering = ["invoice", "line__date_of_service", "line"]
        constraints = [
            models.UniqueConstraint(
                fields=["invoice", "line"], name="billing_line_once_per_invoice"
            ),
            models.UniqueConstraint(
                fields=["line"], condition=Q(live=True), name="billing_line_on_one_live_invoice"
            ),
        ]

    def __str__(self) -> str:
        return f"line {self.line_id} on invoice {self.invoice_id}"


class PaymentMethod(models.TextChoices):
    CASH = "cash", _("Cash")
    CARD = "card", _("Card (taken elsewhere)")
    BANK_TRANSFER = "transfer", _("Bank transfer")
    INSURANCE = "insurance", _("Insurance payment")
    OTHER = "other", _("Other")


class Payment(models.Model):
    """Money received for a client, recorded by hand (Rapport takes no payments itself).

    ``allocated`` is the part allocated to invoices; the rest is the client's credit."""

    client = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="payments"
    )
    received_on = models.DateField(_("received on"))
    amount = models.PositiveIntegerField(_("amount (minor units)"))
    currency = models.CharField(max_length=3, validators=[validate_currency])
    method = models.CharField(_("method"), max_length=10, choices=PaymentMethod.choices)
    # Blank: the client paid. Otherwise who did (an insurer's name).
    payer = EncryptedTextField(_("paid by"), blank=True, default="")
    reference = EncryptedTextField(_("reference"), blank=True, default="")
    allocated = models.PositiveIntegerField(default=0)
    refunded = models.PositiveIntegerField(default=0)  # paid back to the client (``Refund``)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["client", "received_on", "pk"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="billing_payment_positive"),
            models.CheckConstraint(
                condition=Q(allocated__lte=models.F("amount") - models.F("refunded")),
                name="billing_payment_not_overallocated",
            ),
        ]

    def __str__(self) -> str:
        return f"payment {self.pk} of {self.client_id}"

    @property
    def unallocated(self) -> int:
        """The client's credit from this payment: neither allocated nor paid back."""
        return self.amount - self.allocated - self.refunded


class Allocation(models.Model):
    """Part of a payment applied to one invoice."""

    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="allocations")
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="allocations")
    amount = models.PositiveIntegerField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["invoice", "pk"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="billing_allocation_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.amount} of payment {self.payment_id} to invoice {self.invoice_id}"


class Refund(models.Model):
    """Credit paid back to the client (money the practice returned, by hand like payments):
    taken from the unallocated part of their payments, newest first (``RefundPart``)."""

    client = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="refunds"
    )
    refunded_on = models.DateField(_("refunded on"))
    amount = models.PositiveIntegerField(_("amount (minor units)"))
    currency = models.CharField(max_length=3, validators=[validate_currency])
    method = models.CharField(_("method"), max_length=10, choices=PaymentMethod.choices)
    reference = EncryptedTextField(_("reference"), blank=True, default="")
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["client", "refunded_on", "pk"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="billing_refund_positive"),
        ]

    def __str__(self) -> str:
        return f"refund {self.pk} of {self.client_id}"


class RefundPart(models.Model):
    """The part of one payment's credit a refund paid back."""

    refund = models.ForeignKey(Refund, on_delete=models.PROTECT, related_name="parts")
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="refund_parts")
    amount = models.PositiveIntegerField()

    class Meta:
        ordering = ["refund", "pk"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="billing_refund_part_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.amount} of payment {self.payment_id} in refund {self.refund_id}"


class WriteOff(models.Model):
    """Part of an invoice the practice forgives, with its reason (encrypted: it may name the
    client's circumstances)."""

    client = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="write_offs"
    )
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="write_offs")
    written_off_on = models.DateField(_("written off on"))
    amount = models.PositiveIntegerField(_("amount (minor units)"))
    reason = EncryptedTextField(_("reason"))
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["client", "written_off_on", "pk"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="billing_write_off_positive"),
        ]

    def __str__(self) -> str:
        return f"write-off {self.pk} on invoice {self.invoice_id}"
