"""Recounting models.FacetPairCounts from the stored facet values.

PostgreSQL's triggers (migration 0011) keep the pair counts current with every edit of
studies_studyfacets. Should they ever drift (the triggers disabled during a restore or
a bulk load), rewriting the facet rows does not mend them: the old and the new pairs
cancel. :func:`recount` empties the table and adds every study's pairs again, with the
triggers' own statement, so that both count alike.
"""

from __future__ import annotations

from importlib import import_module

from django.db import connections, transaction

# The statement the trigger function was created with (a migration's module name
# starts with a digit, hence import_module).
ADD_PAIRS = import_module("studies.migrations.0011_facet_pair_counts").ADD_PAIRS


def recount(using: str = "default") -> int | None:
    """Replace every pair count by a count over studies_studyfacets, in one
    transaction; return how many pairs are kept (None: not PostgreSQL, nothing kept)."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        return None
    with transaction.atomic(using=using), connection.cursor() as cursor:
        # Writers of facet rows wait until the recount commits: none is counted twice.
        cursor.execute("LOCK TABLE studies_studyfacets IN SHARE MODE")
        cursor.execute("DELETE FROM studies_facetpaircounts")
        cursor.execute(ADD_PAIRS % "SELECT tags, 1 FROM studies_studyfacets")
        cursor.execute("SELECT count(*) FROM studies_facetpaircounts")
        return cursor.fetchone()[0]
