from typing import Any

from django.core.management.base import BaseCommand, CommandError

from rapport.audit.services import verify_trail


class Command(BaseCommand):
    help = "Check the audit trail's hash chain; names every edited, deleted or reordered event."

    def handle(self, *args: Any, **options: Any) -> None:
        result = verify_trail()
        if result.ok:
            self.stdout.write(f"Audit trail intact: {result.checked} events verified.")
            return
        for problem in result.problems:
            self.stderr.write(f"event #{problem.sequence}: {problem.problem}")
        raise CommandError(
            f"audit trail tampered: {len(result.problems)} problem(s) in {result.checked} events"
        )
