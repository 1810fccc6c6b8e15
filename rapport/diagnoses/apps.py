from django.apps import AppConfig


class DiagnosesConfig(AppConfig):
    """Diagnoses: ICD-10-CM codes recorded for a client, with onset and resolution."""

    name = "rapport.diagnoses"
    label = "diagnoses"
    verbose_name = "Diagnoses"
