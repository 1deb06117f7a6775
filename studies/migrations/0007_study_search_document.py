"""Store each study's search document (studies.search_documents keeps it): a weighted
tsvector with a GIN index and the upper-cased codes for substring matches. Filled
and indexed on PostgreSQL only; other databases search without them."""

import django.contrib.postgres.search
from django.db import migrations, models

# The same document as studies.search_documents.refresh_search_documents.
PRODUCTS = """(SELECT string_agg(c.name, {sep}) FROM studies_armproduct p
  JOIN studies_arm a ON a.id = p.arm_id JOIN studies_carconstruct c ON c.id = p.construct_id
 WHERE a.study_id = studies_study.id)"""
ALIASES = """(SELECT string_agg(al.alias, {sep}) FROM studies_constructalias al
  JOIN studies_armproduct p ON p.construct_id = al.construct_id
  JOIN studies_arm a ON a.id = p.arm_id
 WHERE a.study_id = studies_study.id)"""
REGISTRY_IDS = """(SELECT string_agg(i.identifier, {sep}) FROM studies_registryid i
 WHERE i.study_id = studies_study.id)"""
PUBLICATIONS = """(SELECT string_agg(pub.{field}, ' ') FROM studies_studyreport r
  JOIN studies_publication pub ON pub.id = r.publication_id
 WHERE r.study_id = studies_study.id)"""


def _words(config, text, weight):
    return f"setweight(to_tsvector('{config}', COALESCE({text}, '')), '{weight}')"


SPACE = "' '"
NEWLINE = "E'\\n'"
BACKFILL = f"""
UPDATE studies_study SET
  search_vector =
       setweight(to_tsvector('english',
                 COALESCE(title, '') || ' ' || COALESCE(short_name, '')), 'A')
    || {_words("simple", PRODUCTS.format(sep=SPACE), "A")}
    || {_words("simple", ALIASES.format(sep=SPACE), "A")}
    || {_words("simple", REGISTRY_IDS.format(sep=SPACE), "A")}
    || {_words("english", PUBLICATIONS.format(field="title"), "B")}
    || {_words("english", PUBLICATIONS.format(field="abstract"), "C")},
  search_codes = UPPER(
       COALESCE({PRODUCTS.format(sep=NEWLINE)}, '') || {NEWLINE}
    || COALESCE({ALIASES.format(sep=NEWLINE)}, '') || {NEWLINE}
    || COALESCE({REGISTRY_IDS.format(sep=NEWLINE)}, ''))
"""
INDEX = "CREATE INDEX study_search_vector_idx ON studies_study USING gin (search_vector)"
DROP_INDEX = "DROP INDEX IF EXISTS study_search_vector_idx"


def fill(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKFILL)
        schema_editor.execute(INDEX)


def unfill(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_INDEX)


class Migration(migrations.Migration):

    dependencies = [
        ('studies', '0006_study_catalogue_columns'),
    ]

    operations = [
        migrations.AddField(
            model_name='study',
            name='search_codes',
            field=models.TextField(default='', editable=False, help_text='Product names, aliases and registry ids, upper-cased.'),
        ),
        migrations.AddField(
            model_name='study',
            name='search_vector',
            field=django.contrib.postgres.search.SearchVectorField(editable=False, null=True),
        ),
        migrations.RunPython(fill, unfill),
    ]
