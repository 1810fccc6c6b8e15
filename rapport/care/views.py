"""Editing client records, care relationships, accounts and emergency access."""

from __future__ import annotations

from allauth.account.decorators import reauthentication_required
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from rapport.accounts import services as account_services
from rapport.accounts.decorators import role_required
from rapport.accounts.models import Role, User
from rapport.care import services
from rapport.care.access import Reach, access_client, all_relationships, profile_of
from rapport.care.forms import ClientProfileForm, EmergencyAccessForm, RelationshipForm
from rapport.care.models import CareRelationship


@login_required
@require_http_methods(["GET", "POST"])
def edit_client_record(request: HttpRequest, client_id: int) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    client, how = access_client(user, client_id, request=request, purpose="edit")
    if how not in {Reach.CARE, Reach.SELF}:
        raise PermissionDenied("emergency access is read-only")
    form = ClientProfileForm(request.POST or None, instance=profile_of(client))
    if how == Reach.SELF:
        # Clients keep their own contact details; clinical notes are the therapist's.
        del form.fields["intake_notes"]
    if request.method == "POST" and form.is_valid():
        changes = {name: form.cleaned_data[name] for name in form.fields}
        services.update_client_profile(client, actor=user, request=request, changes=changes)
        messages.success(request, _("Saved."))
        return redirect("client_record", client_id=client.pk)
    return render(request, "care/client_edit.html", {"client": client, "form": form})


@role_required(Role.ADMIN)
@reauthentication_required  # type: ignore[untyped-decorator,unused-ignore]
@require_http_methods(["GET", "POST"])
def emergency_access(request: HttpRequest, client_id: int) -> HttpResponse:
    client = User.objects.filter(pk=client_id, role=Role.CLIENT).first()
    if client is None:
        return render(request, "404.html", status=404)
    form = EmergencyAccessForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.grant_emergency_access(
                request.user,  # type: ignore[arg-type]
                client,
                reason=form.cleaned_data["reason"],
                request=request,
            )
        except ValidationError as exc:
            form.add_error("reason", exc)
        else:
            messages.warning(request, _("Emergency access granted and recorded."))
            return redirect("client_record", client_id=client.pk)
    return render(request, "care/emergency_access.html", {"client": client, "form": form})


@role_required(Role.ADMIN)
@require_http_methods(["GET"])
def admin_users(request: HttpRequest) -> HttpResponse:
    people = User.objects.annotate(
        mfa_count=Count("authenticator", distinct=True),
        active_care=Count(
            "care_relationships",
            filter=Q(care_relationships__status=CareRelationship.Status.ACTIVE),
            distinct=True,
        ),
    ).order_by("role", "full_name")
    role = request.GET.get("role", "")
    if role in Role.values:
        people = people.filter(role=role)
    return render(
        request, "care/admin_users.html", {"people": people, "role": role, "roles": Role.choices}
    )


@role_required(Role.ADMIN)
@reauthentication_required  # type: ignore[untyped-decorator,unused-ignore]
@require_POST
def admin_set_active(request: HttpRequest, user_id: int) -> HttpResponse:
    target = User.objects.filter(pk=user_id).first()
    if target is None:
        return render(request, "404.html", status=404)
    choice = request.POST.get("active")
    if choice not in {"0", "1"}:
        return render(request, "400.html", status=400)
    active = choice == "1"
    account_services.set_active(request.user, target, active, request)  # type: ignore[arg-type]
    messages.success(request, _("Account updated."))
    return redirect("admin_users")


@role_required(Role.ADMIN)
@reauthentication_required(allow_get=True)  # type: ignore[untyped-decorator,unused-ignore]
@require_http_methods(["GET", "POST"])
def admin_relationships(request: HttpRequest) -> HttpResponse:
    form = RelationshipForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.start_care(
                form.cleaned_data["therapist"],
                form.cleaned_data["client"],
                actor=request.user,  # type: ignore[arg-type]
                request=request,
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("Care relationship started."))
            return redirect("admin_relationships")
    relationships = all_relationships(request.user)  # type: ignore[arg-type]
    return render(
        request,
        "care/admin_relationships.html",
        {"form": form, "relationships": relationships[:500]},
    )


@role_required(Role.ADMIN, Role.THERAPIST)
@require_POST
def end_relationship(request: HttpRequest, relationship_id: int) -> HttpResponse:
    services.end_care(relationship_id, actor=request.user, request=request)  # type: ignore[arg-type]
    messages.success(request, _("Care relationship ended."))
    user: User = request.user  # type: ignore[assignment]
    return redirect("admin_relationships" if user.is_practice_admin else "caseload")
