from django.apps import AppConfig


class MessagingConfig(AppConfig):
    name = "rapport.messaging"
    label = "messaging"
    verbose_name = "Messaging"

    def ready(self) -> None:
        # Inside ready(): the receiver's module imports models.
        from rapport.messaging.preferences import quiet_now
        from rapport.push.signals import quiet_hours_end

        quiet_hours_end.connect(quiet_now, dispatch_uid="messaging-quiet-hours")
