from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from rapport.accounts.models import Practice
from rapport.records import erasure, erasure_requests
from rapport.records.models import Erasure
from rapport.records.retention import overdue_records


class Command(BaseCommand):
    help = (
        "List the records kept past the practice's retention period and the erasures whose "
        "hold has passed, with what each would remove (a dry run). With --apply, carry out the "
        "erasures whose hold has passed and shred files left by an interrupted erasure. "
        "Records past retention are never erased without an admin's request."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--apply", action="store_true", help="carry out erasures whose hold has passed"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        practice = Practice.get()
        years = practice.retention_period_years
        overdue = overdue_records(practice)
        if years is None:
            self.stdout.write("No retention period is set (practice settings).")
        else:
            self.stdout.write(
                f"Retention: {years} years after the last contact; "
                f"{len(overdue)} record(s) kept past it."
            )
        for item in overdue:
            self.stdout.write(
                f"  client #{item.client.pk}: last contact {item.last_contact:%Y-%m-%d}, "
                f"kept until {item.keep_until:%Y-%m-%d}"
            )
        due = erasure_requests.due_holds()
        self.stdout.write(f"{len(due)} erasure(s) whose hold has passed.")
        for held in due:
            plan = erasure.gather(held.client)
            counts = ", ".join(f"{kind} {n}" for kind, n in plan.counts().items() if n)
            self.stdout.write(f"  erasure #{held.pk} of client #{held.client.pk}: {counts}")
        if not options["apply"]:
            self.stdout.write("Dry run: nothing erased (add --apply to carry out due erasures).")
            return
        for held in due:
            erasure_requests.erase_after_hold(None, held.pk)
            self.stdout.write(f"Erased: erasure #{held.pk}.")
        leftover = Erasure.objects.filter(status=Erasure.Status.DONE).exclude(files_to_shred=[])
        for done in leftover:
            shredded = erasure_requests.finish(done.pk)
            self.stdout.write(f"Shredded {shredded} file(s) left by erasure #{done.pk}.")
