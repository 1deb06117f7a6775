from django.core.management.base import BaseCommand
from django.db import transaction

from links.suggestions import refresh_suggestions
from studies import catalogue_counts, pair_counts
from studies.denormalized import refresh_study_counts
from studies.facet_values import refresh_facet_values
from studies.search_documents import refresh_search_documents


class Command(BaseCommand):
    help = (
        "Recompute, for every study and in one transaction, the values the catalogue "
        "stores: newest-first year and patient total, facet values, search documents "
        "(PostgreSQL) the pair counts of facet values, and the identity suggestions "
        "between patient reports. For data written around the "
        "ORM's receivers and triggers: a restore, a raw SQL load."
    )

    def handle(self, *args, **options):
        with transaction.atomic():
            counted = refresh_study_counts()
            faceted = refresh_facet_values()
            searchable = refresh_search_documents()
            pairs = pair_counts.recount()
            suggested = refresh_suggestions()
            catalogue_counts.catalogue_changed()
        self.stdout.write(f"Study years and patient totals: {counted} studies")
        self.stdout.write(f"Facet values: {faceted} studies")
        self.stdout.write(f"Search documents: {searchable} studies (PostgreSQL only)")
        if pairs is None:
            self.stdout.write("Pair counts: none kept on this database (counted per request)")
        else:
            self.stdout.write(f"Pair counts: {pairs} pairs")
        self.stdout.write(f"Identity suggestions: {suggested} pairs")
        self.stdout.write(self.style.SUCCESS("Catalogue values rebuilt."))
