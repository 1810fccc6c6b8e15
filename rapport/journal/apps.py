from django.apps import AppConfig


class JournalConfig(AppConfig):
    """The client's journal and daily mood check-in: private unless the client shares an entry."""

    name = "rapport.journal"
    label = "journal"
    verbose_name = "Journal"

    def ready(self) -> None:
        # Inside ready(): the receiver's module imports models.
        from rapport.journal.sections import mood_section
        from rapport.measures.signals import progress_sections

        progress_sections.connect(mood_section, dispatch_uid="journal.mood_section")
