from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "rapport.accounts"
    label = "accounts"

    def ready(self) -> None:
        from rapport.accounts import notices  # noqa: F401  (connects the security notices)
