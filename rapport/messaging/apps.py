from django.apps import AppConfig


class MessagingConfig(AppConfig):
    name = "rapport.messaging"
    label = "messaging"
    verbose_name = "Messaging"
