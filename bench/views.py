"""Hand-written SQL versions of two public pages: the floor the real ones are held to.

- ``raw_study_list`` answers like ``/api/v1/studies/`` (the same fields, rows and
  order: title, then id) with one SQL statement whose rows PostgreSQL already turns
  into JSON text; Python only joins them. ``?after=<id>`` is its keyset cursor.
- ``raw_catalogue`` shows the rows of the catalogue page (``/studies/``: same order,
  25 a page, the total count) through a bare template, without facets or filters.
- ``catalogue_counted_afresh`` serves the real catalogue page after dropping the facet
  counts stored under filters and marking the unfiltered ones stale, as any change to
  the data does: what its first request costs after a change.
- ``summary_detail_drawn_anew`` serves a group's drill-down page without reading the
  drawing of its rows from the cache (studies.rendered.drawn_anew): what its first
  request costs after a change.

Filters (``disease``, ``target``, ``phase``, ``status``, ``country``; repeatable) mean
what the FilterSet says they mean: a disease includes its narrower diseases.
PostgreSQL only.
"""

from pathlib import Path

from django.db import connection
from django.http import HttpResponse
from django.template import Context, Engine
from django.views.decorators.http import require_GET

from studies import rendered
from studies.models import CatalogueCounts, FilteredCounts
from studies.views import study_list, summary_detail

PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
CATALOGUE_PAGE_SIZE = 25
TEMPLATES = Engine(dirs=[str(Path(__file__).resolve().parent / "templates")])

# The study row of the API, column for column (studies/api/rows.py study_rows).
STUDY_ROW = """
SELECT s.id, s.title, s.short_name, s.design, s.phase, s.status, s.sponsor,
       s.start_date, s.completion_date, s.created_at, s.updated_at,
       COALESCE((SELECT json_agg(c.code ORDER BY c.code)
                   FROM studies_study_countries sc
                   JOIN studies_country c ON c.id = sc.country_id
                  WHERE sc.study_id = s.id), '[]') AS countries,
       COALESCE((SELECT json_agg(r.identifier ORDER BY r.identifier)
                   FROM studies_registryid r WHERE r.study_id = s.id), '[]') AS registry_ids,
       COALESCE((SELECT json_agg(DISTINCT sr.publication_id)
                   FROM studies_studyreport sr WHERE sr.study_id = s.id), '[]') AS publications,
       (SELECT min(p.year) FROM studies_studyreport sr
          JOIN studies_publication p ON p.id = sr.publication_id
         WHERE sr.study_id = s.id) AS first_year,
       COALESCE((SELECT json_agg(DISTINCT d.code)
                   FROM studies_arm a JOIN studies_disease d ON d.id = a.disease_id
                  WHERE a.study_id = s.id), '[]') AS diseases,
       COALESCE((SELECT json_agg(DISTINCT g.code)
                   FROM studies_arm a
                   JOIN studies_armproduct ap ON ap.arm_id = a.id
                   JOIN studies_carconstruct_targets t ON t.carconstruct_id = ap.construct_id
                   JOIN studies_antigen g ON g.id = t.antigen_id
                  WHERE a.study_id = s.id), '[]') AS antigens,
       COALESCE((SELECT json_agg(DISTINCT cc.name)
                   FROM studies_arm a
                   JOIN studies_armproduct ap ON ap.arm_id = a.id
                   JOIN studies_carconstruct cc ON cc.id = ap.construct_id
                  WHERE a.study_id = s.id), '[]') AS constructs,
       (SELECT sum(a.n_patients) FROM studies_arm a WHERE a.study_id = s.id) AS n_patients
  FROM studies_study s
"""

# Codes are first turned into ids (one small query), as the API's filters do, so that
# the planner sees the ids it has statistics for.
CODES_TO_IDS = {
    "disease": """SELECT d.id FROM studies_disease d
          LEFT JOIN studies_disease p ON p.id = d.parent_id
          LEFT JOIN studies_disease gp ON gp.id = p.parent_id
         WHERE d.code = ANY(%(codes)s) OR p.code = ANY(%(codes)s) OR gp.code = ANY(%(codes)s)""",
    "target": "SELECT id FROM studies_antigen WHERE code = ANY(%(codes)s)",
    "country": "SELECT id FROM studies_country WHERE code = ANY(%(codes)s)",
}
FILTERS = {
    "disease": "s.id IN (SELECT a.study_id FROM studies_arm a WHERE a.disease_id = ANY(%s))",
    "target": """s.id IN (SELECT a.study_id FROM studies_armproduct ap
          JOIN studies_carconstruct_targets t ON t.carconstruct_id = ap.construct_id
          JOIN studies_arm a ON a.id = ap.arm_id
         WHERE t.antigen_id = ANY(%s))""",
    "country": """s.id IN (SELECT sc.study_id FROM studies_study_countries sc
         WHERE sc.country_id = ANY(%s))""",
    "phase": "s.phase = ANY(%s)",
    "status": "s.status = ANY(%s)",
}


def _where(request) -> tuple[list[str], list]:
    conditions, params = [], []
    for name, condition in FILTERS.items():
        values = request.GET.getlist(name)
        if not values:
            continue
        if name in CODES_TO_IDS:
            with connection.cursor() as cursor:
                cursor.execute(CODES_TO_IDS[name], {"codes": values})
                values = [row[0] for row in cursor.fetchall()]
        conditions.append(condition)
        params.append(values)
    return conditions, params


def _page_size(request, default: int) -> int:
    try:
        return max(1, min(MAX_PAGE_SIZE, int(request.GET.get("page_size", default))))
    except ValueError:
        return default


@require_GET
def raw_study_list(request):
    conditions, params = _where(request)
    after = request.GET.get("after", "")
    if after.isdigit():
        conditions.append("(s.title, s.id) > ((SELECT title FROM studies_study WHERE id = %s), %s)")
        params += [int(after), int(after)]
    size = _page_size(request, PAGE_SIZE)
    where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
    sql = (
        f"SELECT page.id, row_to_json(page)::text FROM ({STUDY_ROW} {where} "
        f"ORDER BY s.title, s.id LIMIT %s) page ORDER BY page.title, page.id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, size + 1])
        rows = cursor.fetchall()
    more = len(rows) > size
    rows = rows[:size]
    next_link = "null"
    if more:
        query = request.GET.copy()
        query["after"] = str(rows[-1][0])
        next_link = f'"{request.build_absolute_uri(request.path)}?{query.urlencode()}"'
    body = (
        f'{{"next": {next_link}, "previous": null, "results": ['
        + ",".join(text for _, text in rows)
        + "]}"
    )
    return HttpResponse(body, content_type="application/json")


# The catalogue's rows (studies/listing.py list_rows), newest first as on the page,
# by the columns stored on the study (studies/denormalized.py) as the page reads them.
CATALOGUE_ROWS = """
WITH page AS (
  SELECT s.id, s.title, s.phase, s.first_year, s.patient_count AS patients
    FROM studies_study s
   ORDER BY s.first_year DESC, s.title
   LIMIT %s OFFSET %s
)
SELECT page.id, page.title, page.phase, page.first_year, page.patients,
       (SELECT string_agg(r.identifier, ', ' ORDER BY r.registry, r.identifier)
          FROM studies_registryid r WHERE r.study_id = page.id) AS registry_ids,
       (SELECT json_build_array(
                 (SELECT au.family_name FROM studies_publicationauthor au
                   WHERE au.publication_id = p.id ORDER BY au.position LIMIT 1), p.journal)
          FROM studies_studyreport sr JOIN studies_publication p ON p.id = sr.publication_id
         WHERE sr.study_id = page.id ORDER BY p.year, p.id LIMIT 1) AS first_publication,
       (SELECT json_agg(json_build_array(d.code, d.abbreviation, d.name)
                        ORDER BY coalesce(nullif(d.abbreviation, ''), d.name))
          FROM (SELECT DISTINCT d.* FROM studies_arm a
                  JOIN studies_disease d ON d.id = a.disease_id
                 WHERE a.study_id = page.id) d) AS diseases,
       (SELECT json_agg(DISTINCT upper(g.code))
          FROM studies_arm a
          JOIN studies_armproduct ap ON ap.arm_id = a.id
          JOIN studies_carconstruct_targets t ON t.carconstruct_id = ap.construct_id
          JOIN studies_antigen g ON g.id = t.antigen_id
         WHERE a.study_id = page.id) AS targets,
       (SELECT json_agg(DISTINCT jsonb_build_array(cc.id, cc.name))
          FROM studies_arm a
          JOIN studies_armproduct ap ON ap.arm_id = a.id
          JOIN studies_carconstruct cc ON cc.id = ap.construct_id
         WHERE a.study_id = page.id) AS constructs,
       (SELECT json_agg(json_build_array(c.code, c.name) ORDER BY c.name)
          FROM studies_study_countries sc JOIN studies_country c ON c.id = sc.country_id
         WHERE sc.study_id = page.id) AS countries
  FROM page
 ORDER BY page.first_year DESC, page.title
"""


@require_GET
def raw_catalogue(request):
    try:
        number = max(1, int(request.GET.get("page", 1)))
    except ValueError:
        number = 1
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM studies_study")
        total = cursor.fetchone()[0]
        cursor.execute(CATALOGUE_ROWS, [CATALOGUE_PAGE_SIZE, (number - 1) * CATALOGUE_PAGE_SIZE])
        columns = [column.name for column in cursor.description]
        rows = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
    context = Context(
        {
            "rows": rows,
            "total": total,
            "number": number,
            "pages": max(1, -(-total // CATALOGUE_PAGE_SIZE)),
        }
    )
    html = TEMPLATES.get_template("bench/raw_catalogue.html").render(context)
    return HttpResponse(html)


@require_GET
def catalogue_counted_afresh(request):
    # Two short statements: a few rows, and the one row of the unfiltered counts.
    FilteredCounts.objects.all().delete()
    CatalogueCounts.objects.update(counted_version=-1)
    return study_list(request)


@require_GET
def summary_detail_drawn_anew(request, disease: str, targets: str):
    with rendered.drawn_anew():
        return summary_detail(request, disease, targets)
