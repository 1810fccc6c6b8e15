from typing import Any

from django.core.management.base import BaseCommand

from rapport.accounts.adapter import rotate_authenticator_secrets
from rapport.audit.services import Action, record
from rapport.core.encryption import key_ring, rotate_keys
from rapport.messaging.attachments import rotate_attachment_keys


class Command(BaseCommand):
    help = (
        "Re-encrypt every encrypted value with the first key of RAPPORT_ENCRYPTION_KEYS. "
        "Put the new key first, keep the old ones after it, run this, then remove the old keys."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        changed = rotate_keys()
        changed["mfa.Authenticator.data"] = rotate_authenticator_secrets()
        changed["message attachment files"] = rotate_attachment_keys()
        total = sum(changed.values())
        for label, count in changed.items():
            self.stdout.write(f"{label}: {count} re-encrypted")
        record(
            Action.KEYS_ROTATED,
            actor_label="rapport keys rotate",
            key=key_ring().current_id,
            values=total,
        )
        self.stdout.write(f"Done: {total} values now use key {key_ring().current_id}.")
