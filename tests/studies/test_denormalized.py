"""The catalogue's stored columns (studies.denormalized): after a change through any
write path, each study's first_year and patient_count are what the catalogue used to
compute on every request (the year of its first publication, the patients summed
over its arms)."""

import json
import random
from pathlib import Path

import pytest
from django.db.models import OuterRef, Subquery, Sum

from curation import services as curation
from studies.bundles import import_bundle
from studies.demo import load_demo_data
from studies.denormalized import refresh_study_counts
from studies.models import Arm, Publication, Study, StudyReport
from studies.synthetic import synthetic_generate
from tests.curation.bundles import new_publication_payload
from tests.factories import (
    ArmFactory,
    PublicationFactory,
    StudyFactory,
    StudyReportFactory,
    with_roles,
)

BUNDLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "mackensen-2022-bundle.json"


def computed() -> dict[int, tuple]:
    """Per study, the catalogue's former annotations, as it wrote them."""
    first = StudyReport.objects.filter(study=OuterRef("pk")).order_by("publication__year")
    sizes = (
        Arm.objects.filter(study=OuterRef("pk"))
        .order_by()
        .values("study")
        .annotate(total=Sum("n_patients"))
        .values("total")
    )
    rows = Study.objects.annotate(
        year=Subquery(first.values("publication__year")[:1]), size=Subquery(sizes)
    ).values_list("pk", "year", "size")
    return {pk: (year, size) for pk, year, size in rows}


def stored() -> dict[int, tuple]:
    rows = Study.objects.values_list("pk", "first_year", "patient_count")
    return {pk: (year, size) for pk, year, size in rows}


def assert_stored_as_computed():
    assert stored() == computed()


# Edits through the ORM (admin, shell, services) ----------------------------------------------


def _random_edit(rng: random.Random, studies: list[Study]) -> str:
    arms = list(Arm.objects.filter(patients__isnull=True))
    reports = list(StudyReport.objects.all())
    kind = rng.choice(
        [
            "add report",
            "drop report",
            "move report",
            "year",
            "add arm",
            "size",
            "move arm",
            "drop arm",
            "stale study save",
        ]
    )
    if kind == "add report":
        StudyReportFactory(
            study=rng.choice(studies), publication=PublicationFactory(year=rng.randint(2015, 2026))
        )
    elif kind == "drop report" and reports:
        rng.choice(reports).delete()
    elif kind == "move report" and reports:
        report = rng.choice(reports)
        target = rng.choice(studies)
        if not StudyReport.objects.filter(study=target, publication=report.publication_id):
            report.study = target
            report.save()
    elif kind == "year":
        publication = rng.choice(list(Publication.objects.all()))
        publication.year = rng.randint(2015, 2026)
        publication.save()
    elif kind == "add arm":
        ArmFactory(study=rng.choice(studies), n_patients=rng.choice([None, 0, 1, 7, 30]))
    elif kind == "size" and arms:
        arm = rng.choice(arms)
        arm.n_patients = rng.choice([None, 2, 12])
        arm.save()
    elif kind == "move arm" and arms:
        arm = rng.choice(arms)
        arm.study = rng.choice(studies)
        arm.label = f"moved {rng.random()}"
        arm.save()
    elif kind == "drop arm" and arms:
        rng.choice(arms).delete()
    elif kind == "stale study save":
        # An instance loaded before its arms changed writes its old values back.
        study = Study.objects.get(pk=rng.choice(studies).pk)
        ArmFactory(study=study, n_patients=3)
        study.title += " (edited)"
        study.save()
    return kind


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_edits_keep_the_stored_columns(db, seed):
    rng = random.Random(seed)
    studies = [StudyFactory() for _ in range(6)]
    for study in studies[:5]:
        for _ in range(rng.randint(0, 2)):
            ArmFactory(study=study, n_patients=rng.choice([None, 1, 4, 10]))
    assert_stored_as_computed()

    for _ in range(60):
        kind = _random_edit(rng, studies)
        assert stored() == computed(), f"after {kind}"


def test_the_columns_follow_a_study_s_reports_and_arms(db):
    study = StudyFactory()
    assert stored()[study.pk] == (None, None)

    StudyReportFactory(study=study, publication=PublicationFactory(year=2023))
    ArmFactory(study=study, n_patients=None, source_publication=PublicationFactory(year=2021))
    assert stored()[study.pk] == (2021, None)

    ArmFactory(study=study, n_patients=8)
    ArmFactory(study=study, n_patients=4)
    assert stored()[study.pk] == (2021, 12)


def test_a_refresh_of_every_study_repairs_bulk_writes(db):
    ArmFactory(n_patients=6)
    Study.objects.update(first_year=None, patient_count=None)  # no signals

    assert refresh_study_counts() == 1
    assert_stored_as_computed()


def test_an_admin_delete_updates_the_study(superuser_client):
    arm = ArmFactory(n_patients=6)
    ArmFactory(study=arm.study, n_patients=2)

    response = superuser_client.post(f"/admin/studies/arm/{arm.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert Study.objects.get(pk=arm.study_id).patient_count == 2
    assert_stored_as_computed()


# Importers and loaders ---------------------------------------------------------------------


def test_a_bundle_import_and_its_reimport_keep_the_columns(db, curator):
    document = json.loads(BUNDLE.read_text())
    import_bundle(document, user=curator)
    assert_stored_as_computed()
    assert all(year is not None for year, _ in stored().values())

    document["publication"]["year"] -= 1
    for study in document["studies"]:
        for arm in study["arms"]:
            arm["n_patients"] = (arm.get("n_patients") or 0) + 3
    import_bundle(document, user=curator)

    assert_stored_as_computed()


def test_accepting_an_extraction_and_an_edit_keeps_the_columns(db):
    # tests/studies/conftest.py's curator and reviewer are staff without curation roles.
    curator, reviewer = with_roles("alice", "curator"), with_roles("rita", "reviewer")
    draft = curation.extraction_import(curator=curator, payload=new_publication_payload())
    submitted = curation.extraction_submit(extraction_id=draft.pk, user=curator, version=1)
    curation.extraction_accept(extraction_id=submitted.pk, user=reviewer, version=submitted.version)
    study = Study.objects.get()
    assert (study.first_year, study.patient_count) == (2024, 1)

    edit = curation.extraction_start_edit(curator=curator, publication=study.publications.get())
    payload = edit.payload
    payload["publication"]["year"] = 2022
    payload["studies"][0]["arms"][0]["n_patients"] = 3
    edit = curation.extraction_save(
        extraction_id=edit.pk, user=curator, payload=payload, version=edit.version
    )
    edit = curation.extraction_submit(extraction_id=edit.pk, user=curator, version=edit.version)
    curation.extraction_accept(extraction_id=edit.pk, user=reviewer, version=edit.version)

    study.refresh_from_db()
    assert (study.first_year, study.patient_count) == (2022, 3)
    assert_stored_as_computed()


def test_synthetic_data_comes_with_its_columns(db):
    synthetic_generate(studies=30, seed=7, drafts=0, refresh_summaries=False)

    assert_stored_as_computed()
    assert all(year is not None for year, _ in stored().values())


def test_the_demo_data_comes_with_its_columns(db):
    load_demo_data()

    assert_stored_as_computed()
    assert any(size for _, size in stored().values())
