from django.core.management.base import BaseCommand, CommandError

from studies.synthetic import CHUNK_STUDIES, SyntheticDataError, synthetic_generate


class Command(BaseCommand):
    help = (
        "Write N synthetic studies (publications, arms, products, patients, results, "
        "adverse events, curation drafts) for benchmarks; the same seed gives the same data."
    )

    def add_arguments(self, parser):
        parser.add_argument("--studies", type=int, required=True, help="How many studies.")
        parser.add_argument("--seed", type=int, default=1, help="0-99 (default: %(default)s).")
        parser.add_argument(
            "--chunk",
            type=int,
            default=CHUNK_STUDIES,
            help="Studies written per transaction (default: %(default)s).",
        )
        parser.add_argument(
            "--drafts",
            type=int,
            default=None,
            help="Open curation extractions to create (default: 1%% of publications, "
            "at most 50; 0 for none).",
        )

        parser.add_argument(
            "--writers",
            type=int,
            default=2,
            help="Connections writing in parallel with generation (PostgreSQL; default: "
            "%(default)s).",
        )
        parser.add_argument(
            "--no-summary-refresh",
            action="store_true",
            help="Leave the stored summaries stale instead of requesting a full rebuild "
            "(which runs inline when Celery has no broker).",
        )

    def handle(self, *args, studies, seed, chunk, drafts, writers, no_summary_refresh, **options):
        def progress(done: int) -> None:
            if options["verbosity"] > 1 or done == studies or done % 10_000 < chunk:
                self.stdout.write(f"  {done}/{studies} studies written")

        try:
            summary = synthetic_generate(
                studies=studies,
                seed=seed,
                chunk_studies=chunk,
                drafts=drafts,
                writers=writers,
                refresh_summaries=not no_summary_refresh,
                progress=progress,
            )
        except SyntheticDataError as error:
            raise CommandError(str(error)) from error
        for line in summary.lines():
            self.stdout.write(line)
        self.stdout.write(self.style.SUCCESS(f"Generated {studies} synthetic studies."))
