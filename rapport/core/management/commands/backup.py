from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from rapport.core.backup import BackupError, make_backup


class Command(BaseCommand):
    help = (
        "Back up the database and the message attachments into a new folder in TARGET, with a "
        "manifest naming the ids (never the keys) of the encryption keys the data needs."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("target", type=Path)
        parser.add_argument("--keep", type=int, default=0, help="keep only the newest N backups")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["keep"] < 0:
            raise CommandError("--keep must be 0 (keep all) or more")
        try:
            folder = make_backup(options["target"], keep=options["keep"])
        except (BackupError, OSError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Backup written to {folder}")
