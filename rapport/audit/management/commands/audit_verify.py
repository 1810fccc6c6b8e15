from typing import Any

from django.core.management.base import BaseCommand, CommandError

from rapport.audit.anchor import AnchorError, anchor_path, check_against_anchor, checkpoint_now
from rapport.audit.services import verify_trail


class Command(BaseCommand):
    help = (
        "Check the audit trail's hash chain and compare it with the last checkpoint outside the "
        "database; names every edited, deleted or reordered event, then checkpoints the head."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        result = verify_trail()
        try:
            checkpoint, cut = check_against_anchor()
        except AnchorError as exc:
            raise CommandError(str(exc)) from exc
        problems = result.problems + cut
        if problems:
            for problem in problems:
                self.stderr.write(f"event #{problem.sequence}: {problem.problem}")
            raise CommandError(
                f"audit trail tampered: {len(problems)} problem(s) in {result.checked} events"
            )
        # Only an intact trail is checkpointed: a tampered one must not become the reference.
        try:
            written = checkpoint_now()
        except AnchorError as exc:
            raise CommandError(f"audit trail intact, but {exc}") from exc
        compared = f" (matches the checkpoint of {checkpoint.at})" if checkpoint else ""
        redacted = f"; {result.redacted} redacted by erasure, sealed" if result.redacted else ""
        self.stdout.write(
            f"Audit trail intact: {result.checked} events verified{redacted}{compared}."
        )
        if written is not None:
            self.stdout.write(f"Checkpoint #{written.sequence} appended to {anchor_path()}.")
