"""Recording and changing diagnoses, and the practice's frequent codes: each write in one
transaction with its ``DiagnosisChange`` row and its audit event. Nothing is ever deleted.

Callers reached the client through ``rapport.diagnoses.access`` (``write=True``).
"""

from __future__ import annotations

from datetime import date

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from rapport.accounts.models import User
from rapport.audit.services import Action, record
from rapport.diagnoses import icd
from rapport.diagnoses.errors import DiagnosisError
from rapport.diagnoses.models import Diagnosis, DiagnosisChange, FrequentCode, Rank, Status

_PRIMARY_TAKEN = _(
    "This client already has an active primary diagnosis (%(code)s). Make it secondary first, "
    "or record this one as secondary."
)


def active_diagnoses(client: User) -> QuerySet[Diagnosis]:
    """The client's active diagnoses, the primary first, then by when they were recorded."""
    return Diagnosis.objects.filter(client=client, status=Status.ACTIVE).order_by(
        "rank", "recorded_at", "pk"
    )


def all_diagnoses(client: User) -> QuerySet[Diagnosis]:
    """Every diagnosis of the client, active ones first (entered-in-error ones included)."""
    return (
        Diagnosis.objects.filter(client=client)
        .select_related("recorded_by")
        .order_by("status", "rank", "-recorded_at", "pk")
    )


def frequent_codes() -> list[str]:
    """The practice's frequent codes (or prefixes) in order; the shipped list until edited."""
    codes = list(FrequentCode.objects.values_list("code", flat=True))
    return codes or list(icd.DEFAULT_FREQUENT)


def _check_dates(onset: date | None, resolved_on: date | None) -> None:
    today = timezone.localdate()
    if onset is not None and onset > today:
        raise DiagnosisError(_("The onset date is in the future."))
    if resolved_on is not None and resolved_on > today:
        raise DiagnosisError(_("The resolved date is in the future."))
    if onset is not None and resolved_on is not None and resolved_on < onset:
        raise DiagnosisError(_("The resolved date is before the onset date."))


def _primary_of(client: User, *, other_than: int | None = None) -> Diagnosis | None:
    rows = Diagnosis.objects.filter(client=client, rank=Rank.PRIMARY, status=Status.ACTIVE)
    if other_than is not None:
        rows = rows.exclude(pk=other_than)
    return rows.first()


def record_diagnosis(
    therapist: User,
    client: User,
    *,
    code: str,
    rank: str,
    onset: date | None,
    notes: str = "",
    request: HttpRequest | None = None,
) -> Diagnosis:
    found = icd.billable(code)
    if found is None:
        raise DiagnosisError(
            _("%(code)s is not a billable ICD-10-CM code: choose a code from the search.")
            % {"code": code.strip() or "—"}
            if not icd.is_code(code)
            else _("%(code)s has subdivisions: choose one of its billable codes.")
            % {"code": icd.normalise(code)}
        )
    _check_dates(onset, None)
    with transaction.atomic():
        # Lock the client's diagnoses so two primaries cannot race (the constraint backs it).
        list(Diagnosis.objects.select_for_update().filter(client=client).values_list("pk"))
        if rank == Rank.PRIMARY and (primary := _primary_of(client)) is not None:
            raise DiagnosisError(_PRIMARY_TAKEN % {"code": primary.code})
        diagnosis = Diagnosis.objects.create(
            client=client,
            code=found.code,
            description=found.description,
            rank=rank,
            onset=onset,
            notes=notes.strip(),
            recorded_by=therapist,
        )
        DiagnosisChange.objects.create(
            diagnosis=diagnosis, kind=DiagnosisChange.Kind.RECORDED, rank=rank, changed_by=therapist
        )
        record(
            Action.DIAGNOSIS_RECORDED,
            actor=therapist,
            request=request,
            obj=diagnosis,
            client=client,
            rank=rank,
        )
    return diagnosis


def change_diagnosis(
    therapist: User,
    diagnosis: Diagnosis,
    *,
    action: str,
    resolved_on: date | None = None,
    request: HttpRequest | None = None,
) -> Diagnosis:
    """``action``: "resolve" (on ``resolved_on``), "primary", "secondary" or "error"."""
    with transaction.atomic():
        diagnosis = Diagnosis.objects.select_for_update().get(pk=diagnosis.pk)
        if diagnosis.status != Status.ACTIVE:
            raise DiagnosisError(_("Only an active diagnosis can be changed."))
        fields: list[str]
        if action == "resolve":
            if resolved_on is None:
                raise DiagnosisError(_("Enter the date the diagnosis was resolved."))
            _check_dates(diagnosis.onset, resolved_on)
            diagnosis.status, diagnosis.resolved_on = Status.RESOLVED, resolved_on
            kind, fields = DiagnosisChange.Kind.RESOLVED, ["status", "resolved_on"]
        elif action in {Rank.PRIMARY, Rank.SECONDARY}:
            if action == diagnosis.rank:
                raise DiagnosisError(_("The diagnosis already has that rank."))
            if action == Rank.PRIMARY and (
                primary := _primary_of(diagnosis.client, other_than=diagnosis.pk)
            ):
                raise DiagnosisError(_PRIMARY_TAKEN % {"code": primary.code})
            diagnosis.rank = action
            kind, fields = DiagnosisChange.Kind.RANK, ["rank"]
        elif action == "error":
            diagnosis.status = Status.ENTERED_IN_ERROR
            kind, fields = DiagnosisChange.Kind.ERROR, ["status"]
        else:
            raise DiagnosisError(_("Choose what to change."))
        try:
            with transaction.atomic():
                diagnosis.save(update_fields=fields)
        except IntegrityError as exc:  # a primary recorded at the same moment
            raise DiagnosisError(_("Another primary diagnosis was just recorded.")) from exc
        DiagnosisChange.objects.create(
            diagnosis=diagnosis, kind=kind, rank=diagnosis.rank, changed_by=therapist
        )
        record(
            Action.DIAGNOSIS_CHANGED,
            actor=therapist,
            request=request,
            obj=diagnosis,
            client=diagnosis.client,
            change=kind,
        )
    return diagnosis


def set_frequent_codes(admin: User, codes: list[str], *, request: HttpRequest) -> None:
    if not (admin.is_active and admin.is_practice_admin):
        raise PermissionDenied("the practice's frequent codes are for admins")
    with transaction.atomic():
        FrequentCode.objects.all().delete()
        FrequentCode.objects.bulk_create(
            FrequentCode(code=code, position=n) for n, code in enumerate(codes)
        )
        record(Action.FREQUENT_CODES_CHANGED, actor=admin, request=request, count=len(codes))
