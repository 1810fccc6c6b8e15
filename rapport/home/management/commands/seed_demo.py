from typing import Any

from django.core.management.base import BaseCommand

from rapport.home.demo import seed_demo


class Command(BaseCommand):
    help = "Create the demo practice (an admin, three therapists, six clients) if it is missing."

    def handle(self, *args: Any, **options: Any) -> None:
        created = seed_demo()
        self.stdout.write("Demo practice created." if created else "Demo practice already there.")
