from django.core.management.base import BaseCommand, CommandError

from studies.demo import DEMO_DATA_PATH, DemoDataError, load_demo_data


class Command(BaseCommand):
    help = "Load the demo studies (data/demo_studies.json); running it again duplicates nothing."

    def add_arguments(self, parser):
        parser.add_argument(
            "--path", default=str(DEMO_DATA_PATH), help="Data file to load (default: %(default)s)."
        )

    def handle(self, *args, path, **options):
        try:
            summary = load_demo_data(path=path)
        except DemoDataError as exc:
            raise CommandError(str(exc)) from exc
        for line in summary.lines():
            self.stdout.write(line)
        self.stdout.write(
            self.style.SUCCESS(f"Loaded {path}: {summary.total_created} rows created.")
        )
