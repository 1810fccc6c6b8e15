import getpass
from typing import Any

from allauth.account.models import EmailAddress
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.validators import validate_email
from django.db import transaction

from rapport.accounts.models import Role, User
from rapport.audit.services import Action, record


class Command(BaseCommand):
    help = (
        "Create a practice admin account. The admin enrols two-factor authentication at first "
        "sign-in. The password is read from RAPPORT_ADMIN_PASSWORD or asked for."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--email", required=True)
        parser.add_argument("--name", required=True, help="Full name")

    def handle(self, *args: Any, email: str, name: str, **options: Any) -> None:
        import os

        try:
            validate_email(email)
        except ValidationError as exc:
            raise CommandError(f"{email!r} is not a valid email address") from exc
        if User.objects.filter(email__iexact=email).exists():
            raise CommandError(f"an account for {email} already exists")
        password = os.environ.get("RAPPORT_ADMIN_PASSWORD") or getpass.getpass("Password: ")
        candidate = User(email=email.lower(), full_name=name, role=Role.ADMIN)
        try:
            validate_password(password, candidate)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        with transaction.atomic():
            user = User.objects.create_user(email, password, full_name=name, role=Role.ADMIN)
            EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
            record(
                Action.ACCOUNT_CREATED, actor_label="rapport createadmin", obj=user, role=Role.ADMIN
            )
        self.stdout.write(f"Created admin {user.email}.")
