from django.core.management.base import BaseCommand

from ... import selectors, services


class Command(BaseCommand):
    help = (
        "Refresh the stored summaries now, in this process: the pending changes, or with "
        "--full every table (as the nightly task does)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--full", action="store_true", help="Recompute every summary row from scratch."
        )

    def handle(self, *args, full: bool = False, **options):
        result = services.full_rebuild() if full else services.refresh_keys()
        if result.ran:
            self.stdout.write(
                self.style.SUCCESS(
                    f"{result.kind} refresh: {result.studies} studies, "
                    f"{result.summary_rows} summary rows, {result.seconds:.2f} s."
                )
            )
        else:
            self.stdout.write("Nothing pending.")
        self.stdout.write(str(selectors.freshness()))
