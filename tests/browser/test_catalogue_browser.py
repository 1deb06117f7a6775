"""A clinician using the catalogue in a real browser, on the demo data set."""

import csv
import io
import re

import pytest
from django.db.models import Q

from studies.models import ArmProduct, Patient, Study

pytestmark = [
    pytest.mark.browser,
    # The vocabularies come from a data migration: restore them for every test.
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

SLE_FAMILY = Q(arms__disease__code="sle") | Q(arms__disease__parent__code="sle")


def listed_titles(page) -> list[str]:
    return page.locator(".catalogue-table a.study-link").all_inner_texts()


def shown_count(page, facet: str, value: str) -> int:
    return int(page.locator(f'[data-facet-count="{facet}:{value}"]').inner_text())


def sle_studies_targeting(code: str) -> set[str]:
    """Expected by hand: public SLE (or lupus nephritis) studies with a product aimed at code."""
    return set(
        Study.objects.filter(SLE_FAMILY)
        .filter(arms__products__construct__targets__code=code)
        .values_list("title", flat=True)
    )


def test_filter_to_bcma_in_sle_shows_matching_studies_and_counts(demo, page):
    expected = sle_studies_targeting("bcma")
    assert expected, "the demo data should have BCMA studies in SLE"
    page.goto(f"{demo.url}/studies/")

    page.locator('input[name="disease"][value="sle"]').check()
    page.wait_for_url(re.compile(r"disease=sle"))
    page.locator('input[name="target"][value="bcma"]').check()
    page.wait_for_url(re.compile(r"disease=sle&target=bcma"))
    page.wait_for_selector('input[name="target"][value="bcma"]:checked')

    assert set(listed_titles(page)) == expected
    assert page.locator("#results-title").inner_text().startswith(f"{len(expected)} stud")
    # Target counts are taken over SLE studies, whatever target is ticked.
    assert shown_count(page, "target", "bcma") == len(expected)
    assert shown_count(page, "target", "cd19") == len(sle_studies_targeting("cd19"))
    # The state is in the URL: the back button undoes the last filter.
    page.go_back()
    page.wait_for_url(re.compile(r"disease=sle$"))
    page.wait_for_selector('input[name="target"][value="bcma"]:not(:checked)')
    assert len(listed_titles(page)) >= len(expected)


def test_search_a_product_name(demo, page):
    expected = set(
        Study.objects.filter(arms__products__construct__name="KYV-101").values_list(
            "title", flat=True
        )
    )
    assert expected, "the demo data should use KYV-101"
    page.goto(f"{demo.url}/studies/")

    page.locator("#q").fill("KYV-101")
    page.wait_for_url(re.compile(r"q=KYV-101"))
    page.wait_for_function("document.querySelector('#results-title').innerText.includes('KYV-101')")

    assert expected <= set(listed_titles(page))
    assert "Relevance" in page.locator('select[name="sort"]').inner_text()


def test_open_a_study_and_read_a_numbers_source(demo, page):
    product = (
        ArmProduct.objects.filter(arm__n_patients__isnull=False)
        .select_related("arm__study")
        .first()
    )
    arm = product.arm
    page.goto(f"{demo.url}/studies/")
    page.get_by_role("link", name=arm.study.title, exact=True).first.click()
    page.wait_for_url(re.compile(rf"/studies/{arm.study.pk}/$"))

    number = page.locator(f"#arm-{arm.pk} .sourced").first
    tip = number.locator(".source-tip")
    assert not tip.is_visible()
    number.hover()
    tip.wait_for(state="visible")

    assert number.inner_text().startswith(str(arm.n_patients))
    assert tip.inner_text() == f"Source: {arm.source_display}"
    # Keyboard users get the same by focusing the number.
    page.mouse.move(0, 0)
    number.focus()
    assert tip.is_visible()


def test_follow_a_patient_link_to_the_same_persons_other_report(demo, page):
    linked = (
        Patient.objects.filter(person__isnull=False).select_related("arm__study").order_by("pk")
    )
    patient = next(p for p in linked if p.person.reports.exclude(pk=p.pk).exists())
    other = patient.person.reports.exclude(pk=patient.pk).select_related("arm__study").first()
    page.goto(f"{demo.url}/studies/{patient.arm.study_id}/")

    link = page.locator(f'#patient-{patient.pk} a.same-person[href$="#patient-{other.pk}"]')
    link.click()
    page.wait_for_url(re.compile(rf"/studies/{other.arm.study_id}/#patient-{other.pk}$"))

    row = page.locator(f"#patient-{other.pk}")
    assert row.is_visible()
    assert other.label in row.inner_text()
    assert page.evaluate("location.hash") == f"#patient-{other.pk}"
    # ... and the other report links back.
    assert row.locator(f'a.same-person[href$="#patient-{patient.pk}"]').count() == 1


def test_download_the_filtered_list_as_csv(demo, page):
    expected = sle_studies_targeting("cd19")
    page.goto(f"{demo.url}/studies/?disease=sle&target=cd19")

    with page.expect_download() as download_info:
        page.get_by_role("link", name="CSV").click()
    download = download_info.value
    rows = list(csv.DictReader(io.StringIO(open(download.path(), encoding="utf-8").read())))

    assert download.suggested_filename.startswith("carlit-studies-")
    assert download.suggested_filename.endswith(".csv")
    assert {row["title"].lstrip("'") for row in rows} == expected
    assert len(rows) == len(listed_titles(page))
    assert all("CD19" in row["targets"] for row in rows)


def test_the_catalogue_works_without_javascript(demo, page_for):
    page = page_for(java_script_enabled=False)
    page.goto(f"{demo.url}/studies/")

    page.locator('input[name="target"][value="bcma"]').check()
    page.get_by_role("button", name="Apply filters").click()
    page.wait_for_url(re.compile(r"target=bcma"))

    expected = set(
        Study.objects.filter(arms__products__construct__targets__code="bcma").values_list(
            "title", flat=True
        )
    )
    assert set(listed_titles(page)) == expected


def test_the_summary_drills_down_to_the_rows_behind_a_number(demo, page):
    page.goto(f"{demo.url}/summary/")
    assert page.locator(".chart-svg svg").count() == 2

    link = page.locator('tr[data-summary="sle/cd19"] a[data-metric="patients"]')
    total = link.inner_text()
    link.click()
    page.wait_for_url(re.compile(r"/summary/sle/cd19/#patients$"))

    assert page.locator("#patients-title").inner_text() == f"Unique patients: {total}"
    assert page.locator("#patients .source-cell").count() >= 1


def test_the_layout_fits_a_phone(demo, page_for):
    page = page_for(viewport={"width": 390, "height": 844})
    page.goto(f"{demo.url}/studies/")

    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390
    assert page.locator(".catalogue-table td[data-label='Study']").first.is_visible()
