"""The practice admin's changes to the crisis resources, each audited in its transaction."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpRequest

from rapport.accounts.models import User
from rapport.audit.services import Action, record
from rapport.crisis.models import CrisisResource


def _require_admin(user: User) -> None:
    if not (user.is_active and user.is_practice_admin):
        raise PermissionDenied("the practice's crisis resources are for admins")


def save_resource(
    admin: User, resource: CrisisResource, changed: list[str], *, request: HttpRequest
) -> CrisisResource:
    """Add ``resource`` (no primary key yet) or store the ``changed`` fields of an existing one.
    The caller has validated it (``full_clean``, as the admin form does)."""
    _require_admin(admin)
    adding = resource.pk is None
    with transaction.atomic():
        resource.save()
        detail: dict[str, Any] = {"country": resource.country}
        if not adding:
            detail["fields"] = sorted(changed)
        action = Action.CRISIS_RESOURCE_ADDED if adding else Action.CRISIS_RESOURCE_CHANGED
        record(action, actor=admin, request=request, obj=resource, **detail)
    return resource


def remove_resource(admin: User, resource: CrisisResource, *, request: HttpRequest) -> None:
    _require_admin(admin)
    with transaction.atomic():
        record(
            Action.CRISIS_RESOURCE_REMOVED,
            actor=admin,
            request=request,
            obj=resource,
            country=resource.country,
        )
        resource.delete()
