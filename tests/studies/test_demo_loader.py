"""The demo data set and its loader (studies.demo, manage.py load_demo).

Loading runs full_clean() on every row and takes seconds, so the read-only tests share
one load per module (rolled back at the end); each test still runs in its own
transaction inside it."""

import json
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import transaction

from studies.demo import DEMO_DATA_PATH, SYSTEM_USERNAME, DemoDataError, load_demo_data
from studies.models import (
    AdverseEvent,
    Arm,
    ArmProduct,
    CarConstruct,
    ConstructAlias,
    OutcomeResult,
    Patient,
    Person,
    Publication,
    PublicationAuthor,
    RegistryId,
    Study,
    StudyReport,
)

pytestmark = pytest.mark.django_db

MACKENSEN_2022 = "10.1038/s41591-022-02017-5"
MULLER_2024 = "10.1056/NEJMoa2308917"
COUNTED_MODELS = (
    Publication,
    PublicationAuthor,
    Study,
    StudyReport,
    RegistryId,
    CarConstruct,
    ConstructAlias,
    Arm,
    ArmProduct,
    Patient,
    Person,
    OutcomeResult,
    AdverseEvent,
)


def row_counts() -> dict[str, int]:
    counts = {model.__name__: model.objects.count() for model in COUNTED_MODELS}
    return {**counts, "users": get_user_model().objects.count()}


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock(), transaction.atomic():
        yield load_demo_data()
        transaction.set_rollback(True)


@pytest.fixture
def demo_document() -> dict:
    return json.loads(DEMO_DATA_PATH.read_text(encoding="utf-8"))


def write(tmp_path, document: dict):
    path = tmp_path / "demo.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def test_it_loads_at_least_twelve_studies_reported_with_dois(demo):
    with_doi = Study.objects.filter(publications__doi__isnull=False).distinct()

    assert with_doi.count() >= 12
    assert Publication.objects.filter(doi__isnull=False).count() >= 12
    assert Publication.objects.get(doi=MULLER_2024.lower()).pmid == 38381673


def test_loading_twice_creates_nothing_new(demo):
    before = row_counts()

    again = load_demo_data()

    assert row_counts() == before
    assert again.total_created == 0
    assert not again.updated
    assert get_user_model().objects.filter(username=SYSTEM_USERNAME).count() == 1


def test_mackensen_2022_and_muller_2024_report_one_study(demo):
    mackensen = Publication.objects.get(doi=MACKENSEN_2022)
    muller = Publication.objects.get(doi=MULLER_2024)
    study = Study.objects.get(reports__publication=muller)

    assert study.reports.filter(publication=mackensen).exists()
    sle_arms = study.arms.filter(disease__code="sle")
    assert sle_arms.count() == 1
    arm = sle_arms.get()
    # The arm's size comes from the latest report: 8 patients, not 5 + 8.
    assert (arm.n_patients, arm.source_publication) == (8, muller)
    doris = {
        row.source_publication: (row.n_events, row.n_evaluable)
        for row in arm.results.filter(measure__code="doris")
    }
    assert doris == {mackensen: (5, 5), muller: (8, 8)}


def test_every_number_names_its_source_in_a_report_of_its_study(demo):
    rows = [
        *OutcomeResult.objects.select_related("arm__study", "patient__arm__study"),
        *AdverseEvent.objects.select_related("arm__study", "patient__arm__study"),
    ]
    reports = set(StudyReport.objects.values_list("study_id", "publication_id"))

    assert len(rows) > 20
    for row in rows:
        study = row.arm.study if row.arm else row.patient.arm.study
        assert row.source_label and row.source_kind, row
        assert (study.pk, row.source_publication_id) in reports, row


def test_superseded_abstracts_point_at_the_fuller_report(demo):
    shu = Publication.objects.get(doi="10.1016/j.eclinm.2025.103229")
    eular = Publication.objects.get(journal="EULAR 2024 Congress", pages="POS0054")

    assert eular.superseded_by == shu
    assert eular.doi is None  # not stated by the source: left empty
    assert StudyReport.objects.get(publication=eular).data_cutoff.isoformat() == "2023-12-18"


def test_the_same_person_in_two_case_reports_is_linked_as_probable(demo):
    taubmann = Patient.objects.get(source_publication__doi="10.1093/rheumatology/kead330")
    relapse = Patient.objects.get(source_publication__doi="10.1038/s41591-025-03718-3")

    assert taubmann.person_id is not None
    assert taubmann.person_id == relapse.person_id
    assert {taubmann.person_evidence, relapse.person_evidence} == {"probable"}


def test_rows_are_created_by_an_inactive_system_user(demo):
    user = get_user_model().objects.get(username=SYSTEM_USERNAME)

    assert not user.is_active
    assert not user.has_usable_password()
    assert set(Study.objects.values_list("created_by", flat=True)) == {user.pk}


def test_a_score_out_of_range_names_the_record_and_writes_nothing(tmp_path, demo_document):
    before = row_counts()
    erlangen = demo_document["studies"][0]
    baseline = erlangen["arms"][0]["results"][0]
    assert baseline["measure"] == "sledai-2k"
    baseline["median"] = 120
    path = write(tmp_path, demo_document)

    with pytest.raises(DemoDataError) as raised:
        load_demo_data(path=path)

    message = str(raised.value)
    assert erlangen["title"] in message
    assert "arm 'SLE'" in message and "sledai-2k" in message
    assert "median: 120 is outside SLEDAI-2K's range 0–105" in message
    assert row_counts() == before


def test_an_unknown_vocabulary_code_is_named(tmp_path, demo_document):
    demo_document["studies"][1]["arms"][0]["disease"] = "lupus"

    with pytest.raises(DemoDataError, match=r"arm 'Case': disease: unknown disease code 'lupus'"):
        load_demo_data(path=write(tmp_path, demo_document))


def test_a_misspelt_field_is_refused(tmp_path, demo_document):
    demo_document["publications"][1]["jornal"] = "Nature Medicine"

    with pytest.raises(DemoDataError, match=r"publication 'mackensen-2022': jornal: unknown field"):
        load_demo_data(path=write(tmp_path, demo_document))


def test_the_command_prints_counts_and_reports_errors(tmp_path):
    out = StringIO()
    call_command("load_demo", stdout=out)

    studies = Study.objects.count()
    assert studies >= 12
    assert f"studies: {studies} created" in out.getvalue() or (
        f"studies: 0 created, 0 updated, {studies} unchanged" in out.getvalue()
    )

    broken = tmp_path / "broken.json"
    broken.write_text("{", encoding="utf-8")
    with pytest.raises(CommandError, match="not valid JSON"):
        call_command("load_demo", path=str(broken), stdout=StringIO())
