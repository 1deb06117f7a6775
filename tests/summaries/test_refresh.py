"""Stored summaries without a broker: what is stored, what a change enqueues, and when."""

from datetime import timedelta
from decimal import Decimal
from unittest import mock

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.template import Context, Template
from django.utils import timezone
from kombu.exceptions import OperationalError

from studies import views
from studies.models import Disease, OutcomeMeasure
from studies.summary import CRS_ANY, RESPONSE, Rate, pooled_summary
from summaries import selectors, services, snapshot
from summaries.models import (
    ConstructSummary,
    DiseaseTargetMeasureSummary,
    DiseaseTargetSummary,
    PendingRefresh,
    RefreshRun,
    YearSummary,
)
from summaries.tasks import refresh_summaries
from tests.factories import (
    AntigenFactory,
    ArmFactory,
    ArmProductFactory,
    CarConstructFactory,
    OutcomeResultFactory,
    PatientAdverseEventFactory,
    PatientFactory,
    PatientResultFactory,
    PersonFactory,
    StudyFactory,
)

from .oracle import differences, expected_tables, stored_tables

pytestmark = pytest.mark.django_db


def arm_with(product, *, disease=None, n_patients=4, **kwargs):
    arm = ArmFactory(n_patients=n_patients, **({"disease": disease} if disease else {}), **kwargs)
    ArmProductFactory(arm=arm, construct=product)
    return arm


@pytest.fixture
def bcma_product(db):
    return CarConstructFactory(name="TEST-BCMA", targets=[AntigenFactory(code="bcma")])


@pytest.fixture
def two_groups(empty_queue, doris, cd19_product, bcma_product):
    """SLE × CD19: an arm with DORIS 3 of 4. SSc × BCMA: an arm of 2 patients."""
    sle_arm = arm_with(cd19_product)
    OutcomeResultFactory(arm=sle_arm, measure=doris, n_events=3, n_evaluable=4)
    ssc_arm = arm_with(bcma_product, disease=Disease.objects.get(code="ssc"), n_patients=2)
    services.full_rebuild()
    return {"sle": sle_arm, "ssc": ssc_arm}


def stored(disease: str, target: str) -> DiseaseTargetSummary:
    return DiseaseTargetSummary.objects.select_related("disease").get(
        disease__code=disease, target_key=target
    )


# What is stored ----------------------------------------------------------------------------


def test_a_person_reported_twice_is_stored_once_at_the_longer_follow_up(
    empty_queue, doris, cd19_product
):
    person = PersonFactory()
    case = PatientFactory(
        arm=arm_with(cd19_product, n_patients=1), person=person, person_evidence="confirmed",
        follow_up_days=90,
    )
    PatientResultFactory(patient=case, measure=doris, value=None, value_bool=True)
    series = arm_with(cd19_product, n_patients=2)
    later = PatientFactory(arm=series, person=person, person_evidence="confirmed",
                           follow_up_days=400)
    other = PatientFactory(arm=series, follow_up_days=200)
    PatientResultFactory(patient=later, measure=doris, value=None, value_bool=False)
    PatientResultFactory(patient=other, measure=doris, value=None, value_bool=True)
    PatientAdverseEventFactory(patient=later, grade=2)

    services.full_rebuild()

    row = stored("sle", "cd19")
    assert (row.studies, row.patients) == (2, 2)
    assert row.rate(RESPONSE) == Rate(1, 2)
    assert row.rate(CRS_ANY) == Rate(1, 1)
    assert row.median_follow_up_days == 300
    assert row.as_dict() | {"computed_at": None, "median_follow_up_days": None} == (
        pooled_summary("sle", "cd19").as_dict()
        | {"computed_at": None, "median_follow_up_days": None}
    )
    assert differences(stored_tables(), expected_tables()) == []


def test_pages_read_stored_rows_like_pooled_summaries(two_groups):
    rows = selectors.disease_target_summaries()

    assert [row.key for row in rows] == [("sle", "cd19"), ("ssc", "bcma")]  # by disease name
    assert rows[0].targets.label == "CD19"
    assert rows[0].rates[0] == ("response", "Responders (main outcome)", Rate(3, 4))
    lupus = Disease.objects.get(code="sle")
    assert [row.key for row in selectors.disease_summaries(lupus)] == [("sle", "cd19")]


def test_a_disease_page_reads_the_response_points_of_its_own_groups_only(two_groups):
    ssc = Disease.objects.get(code="ssc")
    OutcomeResultFactory(arm=two_groups["ssc"], measure=ssc.main_outcome, n_events=1,
                         n_evaluable=2)
    services.full_rebuild()
    assert len(selectors.response_points(selectors.disease_target_summaries())) == 2
    lupus = selectors.disease_summaries(Disease.objects.get(code="sle"))

    points = selectors.response_points(lupus)

    assert [(p.arm.pk, p.rate(RESPONSE)) for p in points] == [(two_groups["sle"].pk, Rate(3, 4))]
    assert selectors.response_points([]) == []


def test_the_dashboard_plots_only_the_arms_with_the_most_evaluable_patients(
    two_groups, doris, cd19_product, client, monkeypatch
):
    monkeypatch.setattr(views, "FOREST_ARMS", 2)
    for evaluable in (10, 2):
        OutcomeResultFactory(arm=arm_with(cd19_product), measure=doris, n_events=1,
                             n_evaluable=evaluable)
    services.full_rebuild()

    html = client.get("/summary/").content.decode()

    forest = html[html.index('id="forest-title"'):]
    assert "1/10" in forest and "3/4" in forest and "1/2" not in forest
    assert "The 2 study arms with the most evaluable patients; more report" in forest


# What a change refreshes ---------------------------------------------------------------------


def test_an_edit_refreshes_only_the_summary_rows_it_touches(two_groups, doris):
    untouched = stored("ssc", "bcma").computed_at
    result = OutcomeResultFactory(
        arm=two_groups["sle"], measure=doris, n_events=1, n_evaluable=4, day=360
    )

    refreshed = services.refresh_keys()

    assert refreshed.keys == [services.study_key(result.arm.study_id)]
    assert stored("sle", "cd19").rate(RESPONSE) == Rate(1, 4)
    assert stored("ssc", "bcma").computed_at == untouched
    assert differences(stored_tables(), expected_tables()) == []


def test_an_edit_that_moves_no_pooled_number_rewrites_no_summary_row(two_groups):
    stamps = stored_stamps()
    arm = two_groups["sle"]
    arm.label = "SLE cohort, renamed"
    arm.save()

    refreshed = services.refresh_keys()

    assert refreshed.ran and refreshed.summary_keys == []
    assert stored_stamps() == stamps
    assert differences(stored_tables(), expected_tables()) == []


def test_a_changed_patient_value_rewrites_its_measure_row_only(two_groups, cd19_product):
    score = OutcomeMeasure.objects.get(code="sledai-2k")
    patient = PatientFactory(arm=arm_with(cd19_product, n_patients=1))
    result = PatientResultFactory(patient=patient, measure=score, value=Decimal("8"))
    services.refresh_keys()
    stamps = stored_stamps()

    result.value = Decimal("2")
    result.save()
    services.refresh_keys()

    moved = {key for key, stamp in stored_stamps().items() if stamps.get(key) != stamp}
    assert moved == {("measure", "sle", "cd19", "sledai-2k")}
    row = DiseaseTargetMeasureSummary.objects.get(measure=score, target_key="cd19")
    assert row.median == Decimal("2")
    assert differences(stored_tables(), expected_tables()) == []


def stored_stamps() -> dict[tuple, object]:
    """When each stored summary row was computed, by its key."""
    stamps = {
        ("group", d, t): at
        for d, t, at in DiseaseTargetSummary.objects.values_list(
            "disease__code", "target_key", "computed_at"
        )
    }
    stamps |= {
        ("measure", d, t, m): at
        for d, t, m, at in DiseaseTargetMeasureSummary.objects.values_list(
            "disease__code", "target_key", "measure__code", "computed_at"
        )
    }
    stamps |= {("construct", c, None): at
               for c, at in ConstructSummary.objects.values_list("construct_id", "computed_at")}
    stamps |= {("year", y, None): at
               for y, at in YearSummary.objects.values_list("year", "computed_at")}
    return stamps


def test_deleting_the_last_row_of_a_group_removes_its_summary(two_groups):
    arm = two_groups["ssc"]
    arm.products.all().delete()
    arm.delete()

    services.refresh_keys()

    assert not DiseaseTargetSummary.objects.filter(disease__code="ssc").exists()


def test_moving_an_arm_to_another_study_refreshes_both(two_groups):
    arm = two_groups["ssc"]
    old_study = arm.study_id
    arm.study = StudyFactory()
    arm.save()

    keys = set(PendingRefresh.objects.values_list("key", flat=True))

    assert keys == {services.study_key(old_study), services.study_key(arm.study_id)}


def test_a_new_vocabulary_row_changes_nothing_but_a_new_main_outcome_rebuilds_all(two_groups):
    Disease.objects.create(code="test-new", name="Test new disease", icd10="M35.9")
    assert not PendingRefresh.objects.exists()

    lupus = Disease.objects.get(code="sle")
    lupus.main_outcome = OutcomeMeasure.objects.get(code="lldas")
    lupus.save()

    assert list(PendingRefresh.objects.values_list("key", flat=True)) == [services.ALL]


def test_new_targets_of_a_construct_refresh_the_studies_given_it(two_groups, bcma_product):
    bcma_product.targets.add(AntigenFactory(code="cd19"))

    services.refresh_keys()

    assert stored("ssc", "cd19+bcma").patients == 2
    assert not DiseaseTargetSummary.objects.filter(target_key="bcma").exists()


def test_refreshing_twice_is_harmless(two_groups, doris):
    OutcomeResultFactory(arm=two_groups["sle"], measure=doris, n_events=0, n_evaluable=4,
                         day=360)
    first = services.refresh_keys()
    tables = stored_tables()

    second = services.refresh_keys()

    assert first.ran and not second.ran
    assert stored_tables() == tables


@pytest.mark.postgres
def test_a_full_rebuild_leaves_planner_statistics_of_every_snapshot_table(two_groups):
    """The rebuild joins tables it has just filled: without fresh statistics PostgreSQL
    planned for a tenth of the rows and a first rebuild of 10,000 studies took minutes."""
    services.full_rebuild()

    with connection.cursor() as cursor:
        for model in snapshot.SNAPSHOT_MODELS:
            cursor.execute(
                "SELECT reltuples FROM pg_class WHERE oid = %s::regclass",
                [model._meta.db_table],
            )
            assert cursor.fetchone()[0] == model.objects.count(), model.__name__


# When a refresh is requested -------------------------------------------------------------------


@pytest.fixture
def sent():
    with mock.patch.object(refresh_summaries, "apply_async") as apply_async:
        yield apply_async


def test_a_refresh_is_requested_after_the_commit_not_before(
    two_groups, doris, sent, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        OutcomeResultFactory(arm=two_groups["sle"], measure=doris, day=360)
        assert PendingRefresh.objects.count() == 1
        assert not sent.called

    sent.assert_called_once()
    assert sent.call_args.kwargs["kwargs"] == {
        "keys": [services.study_key(two_groups["sle"].study_id)]
    }
    assert sent.call_args.kwargs["countdown"] == services.coalesce_seconds()


def test_a_rolled_back_transaction_enqueues_nothing(
    two_groups, doris, sent, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(RuntimeError), transaction.atomic():
            OutcomeResultFactory(arm=two_groups["sle"], measure=doris, day=360)
            raise RuntimeError("the import failed")

    assert callbacks == []
    assert not PendingRefresh.objects.exists()
    assert not sent.called


def test_one_transaction_sends_one_refresh_for_all_it_changed(
    two_groups, doris, sent, django_capture_on_commit_callbacks
):
    sle, ssc = two_groups["sle"], two_groups["ssc"]
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with transaction.atomic():
            for size in range(1, 30):
                ssc.n_patients = size
                ssc.save()
            OutcomeResultFactory(arm=sle, measure=doris, day=360)
            with pytest.raises(RuntimeError), transaction.atomic():
                ssc.study.save()
                raise RuntimeError("a rolled-back savepoint marks nothing")

    assert len(callbacks) == 1
    sent.assert_called_once()
    keys = sorted(services.study_key(arm.study_id) for arm in (sle, ssc))
    assert sent.call_args.kwargs["kwargs"] == {"keys": keys}
    assert sorted(PendingRefresh.objects.values_list("key", flat=True)) == keys


def test_fifty_edits_in_one_window_send_one_refresh(
    two_groups, sent, django_capture_on_commit_callbacks, settings
):
    # A window longer than the edits can take, however loaded the machine: with the
    # default 5 s, fifty saves under load could span two windows.
    settings.SUMMARIES_COALESCE_SECONDS = 600
    arm = two_groups["sle"]
    for size in range(50):
        with django_capture_on_commit_callbacks(execute=True):
            arm.n_patients = size
            arm.save()

    assert sent.call_count == 1
    assert PendingRefresh.objects.count() == 50
    services.refresh_keys(sent.call_args.kwargs["kwargs"]["keys"])
    assert RefreshRun.objects.filter(kind="incremental").count() == 1
    assert stored("sle", "cd19").patients == 49


def test_a_broker_outage_keeps_the_change_and_its_pending_refresh(
    two_groups, django_capture_on_commit_callbacks
):
    arm = two_groups["ssc"]
    down = OperationalError("Error 111 connecting to 127.0.0.1:1. Connection refused.")
    with mock.patch.object(refresh_summaries, "apply_async", side_effect=down):
        with django_capture_on_commit_callbacks(execute=True):
            arm.n_patients = 7
            arm.save()

    arm.refresh_from_db()
    assert arm.n_patients == 7
    pending = PendingRefresh.objects.get()
    assert pending.enqueued_at is None  # the next change, or the sweep, sends it again
    assert "1 change pending" in str(selectors.freshness())

    refresh_summaries.apply()  # what the periodic sweep runs

    assert stored("ssc", "bcma").patients == 7
    assert selectors.freshness().pending == 0


# Claims --------------------------------------------------------------------------------------


def test_a_key_claimed_by_a_live_worker_is_left_alone(two_groups):
    services.mark_changed(services.study_key(two_groups["ssc"].study_id))
    PendingRefresh.objects.update(claimed_at=timezone.now())

    assert not services.refresh_keys().ran
    assert PendingRefresh.objects.exists()


def test_a_claim_older_than_the_lease_is_taken_over(two_groups, settings):
    settings.SUMMARIES_CLAIM_LEASE_SECONDS = 30
    arm = two_groups["ssc"]
    arm.n_patients = 9
    arm.save()
    PendingRefresh.objects.update(claimed_at=timezone.now() - timedelta(seconds=31))

    assert services.refresh_keys().ran
    assert stored("ssc", "bcma").patients == 9
    assert not PendingRefresh.objects.exists()


def test_a_failed_refresh_releases_its_claim(two_groups):
    arm = two_groups["ssc"]
    arm.n_patients = 9
    arm.save()

    with mock.patch("summaries.aggregation.refresh", side_effect=RuntimeError("boom")):
        with pytest.raises(RuntimeError):
            services.refresh_keys()

    pending = PendingRefresh.objects.get()
    assert (pending.claimed_at, pending.claim_token, pending.attempts) == (None, None, 1)
    assert stored("ssc", "bcma").patients == 2  # the failed refresh wrote nothing


# Commands, staleness and health ------------------------------------------------------------


def test_the_command_refreshes_pending_changes_or_everything(two_groups, capsys):
    arm = two_groups["ssc"]
    arm.n_patients = 5
    arm.save()

    call_command("refresh_summaries")
    assert "incremental refresh: 1 studies" in capsys.readouterr().out
    call_command("refresh_summaries")
    assert "Nothing pending." in capsys.readouterr().out
    call_command("refresh_summaries", "--full")
    output = capsys.readouterr().out
    assert "full refresh: 2 studies" in output
    assert "up to date" in output


def test_pages_can_show_when_summaries_are_stale(two_groups):
    template = Template("{% load summaries_tags %}{% summaries_freshness %}")
    assert "up to date" in template.render(Context())

    arm = two_groups["ssc"]
    arm.n_patients = 5
    arm.save()

    html = template.render(Context())
    assert "Summaries last computed at" in html
    assert "1 change pending" in html
    assert 'data-pending="1"' in html


def test_health_stays_quick_and_reports_services_on_request(client, two_groups, settings):
    assert client.get("/health/").json() == {"database": "ok"}

    settings.CELERY_BROKER_URL = ""
    report = client.get("/health/?full=1")
    assert report.status_code == 200
    assert report.json()["broker"].startswith("not configured")
    assert report.json()["summaries"]["pending"] == 0

    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    report = client.get("/health/?full=1")
    assert report.status_code == 503
    assert report.json()["database"] == "ok"
    assert report.json()["broker"].startswith("error")
    assert client.get("/health/").status_code == 200
