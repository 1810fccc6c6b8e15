from django.apps import AppConfig


class PushConfig(AppConfig):
    name = "rapport.push"
    label = "push"
    verbose_name = "Push notices"
