"""The links pages as curators and reviewers use them, and what the catalogue shows."""

from decimal import Decimal

import pytest
from django.db import connection
from django.template import Context, Template
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from links import services
from links.models import DismissedSuggestion, LinkAction, LinkKind, LinkRequest, LinkStatus
from studies.models import Patient
from tests.factories import ArmFactory, PatientFactory, PersonFactory, PublicationFactory

pytestmark = pytest.mark.django_db

IDENTITY = reverse("links:identity")
SUPERSESSION = reverse("links:supersession")
DASHBOARD = reverse("curation:dashboard")


def many_reports(pairs: int):
    """A study reported twice with ``pairs`` matching patients, and as many linked
    persons elsewhere."""
    first = ArmFactory()
    second = ArmFactory(study=first.study, source_publication=PublicationFactory(year=2025))
    for index in range(pairs):
        PatientFactory(arm=first, label=f"P{index}", age_years=Decimal(30 + 3 * index))
        PatientFactory(arm=second, label=f"S{index}", age_years=Decimal(30 + 3 * index))
        person = PersonFactory()
        PatientFactory(person=person, person_evidence="confirmed")
        PatientFactory(person=person, person_evidence="probable")


def test_only_curation_roles_see_the_pages(client_for, outsider):
    for url in (IDENTITY, SUPERSESSION):
        assert client_for(None).get(url).status_code == 302  # to the login page
        assert client_for(outsider).get(url).status_code == 403
        assert client_for(None).post(reverse("links:identity_propose")).status_code == 302


@pytest.mark.parametrize("pairs", [2, 8])
def test_the_identity_page_costs_the_same_queries_whatever_the_data(
    client_for, curator, pairs, django_assert_max_num_queries
):
    many_reports(pairs)
    client = client_for(curator)
    with django_assert_max_num_queries(16):
        response = client.get(IDENTITY)
    assert response.status_code == 200
    assert response.content.decode().count('class="suggestion"') == pairs
    assert response.content.decode().count('class="person-report"') == 2 * pairs


def test_a_curator_proposes_a_suggested_link_and_a_reviewer_accepts_it_from_the_queue(
    client_for, curator, reviewer, reports
):
    case, later = reports["case"], reports["later"]
    page = client_for(curator).get(IDENTITY).content.decode()
    assert "No suggestions" in page  # different studies: not suggested
    response = client_for(curator).post(reverse("links:identity_propose"), {
        "patient": case.pk, "other_patient": later.pk, "evidence": "confirmed",
        "note": "Table 1 footnote: previously reported.",
    })
    assert response.status_code == 302
    link = LinkRequest.objects.get()
    assert link.status == LinkStatus.SUBMITTED

    queue = client_for(reviewer).get(DASHBOARD).content.decode()
    assert f'id="link-request-{link.pk}"' in queue and "Table 1 footnote" in queue
    assert f'id="link-request-{link.pk}"' not in client_for(curator).get(DASHBOARD).content.decode()
    client_for(reviewer).post(reverse("links:review", args=[link.pk]), {"action": "accept"})

    assert Patient.objects.get(pk=case.pk).person_id == Patient.objects.get(pk=later.pk).person_id
    study_page = client_for(None).get(reverse("studies:study_detail", args=[case.arm.study_id]))
    assert "Patient 3 in Serieslead et al. 2024" in study_page.content.decode()


def test_a_reviewer_cannot_accept_their_own_request_from_the_page(client_for, senior, reports):
    link = services.link_request_propose(
        proposer=senior, kind=LinkKind.SAME_PERSON, patient=reports["case"],
        other_patient=reports["later"], evidence="probable", submit=True,
    )
    response = client_for(senior).post(reverse("links:review", args=[link.pk]),
                                       {"action": "accept"})
    assert response.status_code == 403
    assert LinkRequest.objects.get().status == LinkStatus.SUBMITTED


def test_dismissing_and_undoing_from_the_identity_page(client_for, curator):
    first = ArmFactory()
    second = ArmFactory(study=first.study, source_publication=PublicationFactory(year=2025))
    a, b = PatientFactory(arm=first), PatientFactory(arm=second)
    client = client_for(curator)
    assert 'class="suggestion"' in client.get(IDENTITY).content.decode()

    client.post(reverse("links:identity_propose"),
                {"patient": a.pk, "other_patient": b.pk, "action": "dismiss"})

    assert DismissedSuggestion.objects.filter(patient=a, other_patient=b).exists()
    assert 'class="suggestion"' not in client.get(IDENTITY).content.decode()

    person = PersonFactory()
    Patient.objects.filter(pk__in=[a.pk, b.pk]).update(person=person, person_evidence="probable")
    client.post(reverse("links:identity_undo"), {"patient": a.pk})
    undo = LinkRequest.objects.get(action=LinkAction.UNLINK)
    assert (undo.patient_id, undo.status) == (a.pk, LinkStatus.SUBMITTED)
    assert "undo waiting for review" in client.get(IDENTITY).content.decode()


def test_supersession_is_proposed_by_doi_and_a_wrong_one_is_named(client_for, curator):
    abstract = PublicationFactory(publication_type="conference_abstract", doi="10.1/abstract")
    paper = PublicationFactory(doi="10.1/paper")
    client = client_for(curator)

    wrong = client.post(SUPERSESSION, {"publication": "10.1/abstract", "newer": "10.1/nothing"})
    assert wrong.status_code == 400
    assert "No publication with DOI, PMID or id &#x27;10.1/nothing&#x27;" in wrong.content.decode()

    client.post(SUPERSESSION, {"publication": "https://doi.org/10.1/ABSTRACT",
                               "newer": str(paper.pmid)})

    link = LinkRequest.objects.get()
    assert (link.kind, link.publication, link.newer) == (LinkKind.SUPERSEDES, abstract, paper)


def test_the_study_page_shows_both_reports_and_which_supersedes_which(
    client_for, curator, reviewer
):
    abstract = PublicationFactory(publication_type="conference_abstract", authors=["Early"],
                                  year=2023)
    arm = ArmFactory(source_publication=abstract)
    paper = PublicationFactory(authors=["Later"], year=2024)
    ArmFactory(study=arm.study, source_publication=paper)
    link = services.link_request_propose(proposer=curator, kind=LinkKind.SUPERSEDES,
                                         publication=abstract, newer=paper, submit=True)
    services.link_request_accept(request_id=link.pk, user=reviewer)

    page = client_for(None).get(reverse("studies:study_detail", args=[arm.study_id]))

    text = page.content.decode()
    assert f'id="publication-{abstract.pk}"' in text and f'id="publication-{paper.pk}"' in text
    assert "is superseded by" in text
    assert f'<a href="#publication-{paper.pk}">Later et al. 2024</a>' in text
    assert "Superseded by" in client_for(curator).get(SUPERSESSION).content.decode()


def test_a_case_report_is_linked_to_another_studys_series_by_publication_and_label(
    client_for, curator, reports
):
    case, later = reports["case"], reports["later"]
    client = client_for(curator)
    form = {
        "publication": case.source_publication.doi, "label": "Patient 1",
        "other_publication": str(later.source_publication.pmid), "other_label": "Patient 9",
        "evidence": "confirmed",
    }

    wrong = client.post(reverse("links:identity_link"), form)

    assert wrong.status_code == 400
    assert "reports no patient labelled &#x27;Patient 9&#x27;" in wrong.content.decode()
    assert not LinkRequest.objects.exists()

    client.post(reverse("links:identity_link"), {**form, "other_label": "Patient 3"})

    link = LinkRequest.objects.get()
    assert {link.patient_id, link.other_patient_id} == {case.pk, later.pk}
    assert link.evidence == "confirmed" and link.status == LinkStatus.SUBMITTED


def supersession_waiting_and_done(curator, study=None):
    """An abstract proposed as superseded, and a preprint already superseded."""
    abstract = PublicationFactory(publication_type="conference_abstract")
    arm = ArmFactory(source_publication=abstract, **({"study": study} if study else {}))
    paper = PublicationFactory()
    ArmFactory(study=arm.study, source_publication=paper)
    services.link_request_propose(proposer=curator, kind=LinkKind.SUPERSEDES,
                                  publication=abstract, newer=paper, submit=True)
    done = PublicationFactory(publication_type="preprint", superseded_by=paper)
    ArmFactory(study=arm.study, source_publication=done)
    return arm.study


def queries_for(client, url) -> tuple[int, str]:
    with CaptureQueriesContext(connection) as context:
        response = client.get(url)
    assert response.status_code == 200
    return len(context.captured_queries), response.content.decode()


def test_the_review_queue_supersession_and_study_pages_cost_fixed_queries(
    client_for, curator, reviewer
):
    study = supersession_waiting_and_done(curator)
    pages = [(reviewer, DASHBOARD, 'class="link-request"'),
             (curator, SUPERSESSION, 'class="superseded"')]

    def measure(expected: int) -> list[int]:
        counts = []
        for user, url, marker in pages:
            count, text = queries_for(client_for(user), url)
            assert text.count(marker) == expected
            counts.append(count)
        # The study page's supersession note, on its own (the page's publication list
        # is the studies app's).
        with CaptureQueriesContext(connection) as context:
            note = Template("{% load links_tags %}{% study_supersession study %}").render(
                Context({"study": study}))
        assert note.count('class="superseded-report"') == expected
        return [*counts, len(context.captured_queries)]

    before = measure(1)
    for _ in range(4):
        supersession_waiting_and_done(curator, study)
    assert measure(5) == before


def test_link_requests_open_in_the_admin(client, reports, curator):
    from tests.factories import SuperuserFactory

    link = services.link_request_propose(
        proposer=curator, kind=LinkKind.SAME_PERSON, patient=reports["case"],
        other_patient=reports["later"], evidence="probable",
    )
    services.suggestion_dismiss(curator=curator, patient=reports["case"],
                                other_patient=reports["other"])
    client.force_login(SuperuserFactory())
    for url in (reverse("admin:links_linkrequest_changelist"),
                reverse("admin:links_linkrequest_change", args=[link.pk]),
                reverse("admin:links_dismissedsuggestion_changelist")):
        assert client.get(url).status_code == 200


def test_the_navigation_counts_link_requests_waiting_for_the_reader(
    client_for, curator, reviewer, reports
):
    services.link_request_propose(
        proposer=curator, kind=LinkKind.SAME_PERSON, patient=reports["case"],
        other_patient=reports["later"], evidence="probable", submit=True,
    )
    services.link_request_propose(
        proposer=curator, kind=LinkKind.SAME_PERSON, patient=reports["case"],
        other_patient=reports["other"], evidence="probable",
    )

    as_curator = client_for(curator).get(DASHBOARD).content.decode()
    as_reviewer = client_for(reviewer).get(DASHBOARD).content.decode()

    assert 'data-count="link-drafts">1<' in as_curator  # the unsent proposal
    assert 'data-count="link-review"' not in as_curator  # curators do not review
    assert 'data-count="link-review">1<' in as_reviewer  # the submitted one only
