from django.apps import AppConfig
from django.core import checks


class AccountsConfig(AppConfig):
    name = "rapport.accounts"
    label = "accounts"

    def ready(self) -> None:
        from rapport.accounts import notices  # noqa: F401  (connects the security notices)

        # Inside ready(): the check reads models, which load only once apps are ready.
        from rapport.accounts.checks import active_admin

        # Run by `rapport check` (the "rapport" tag), never at start-up: it reads the database.
        checks.register(active_admin, "rapport", checks.Tags.database, deploy=True)
