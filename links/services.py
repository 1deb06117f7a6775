"""Proposing, reviewing and applying identity links and supersession.

Each function is one transaction. Curators propose and submit; a reviewer other than
the proposer accepts or rejects. Accepting re-checks the change against the live data
as it is then (it may have moved on since the proposal), writes it to the live tables
(studies.Person / Patient.person, Publication.superseded_by) and records which studies'
stored summaries must be refreshed, all in the same transaction.

Open extractions (curation) of the publications concerned carry a copy of their links
in the bundle they edit (``same_person_as``, ``superseded_by``); importing that copy
later would undo the accepted change. Accepting therefore carries the change over
into those extractions, unless their curator changed the same links themselves.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from curation import rules
from curation.history import recorded_as
from curation.models import OPEN_STATUSES as OPEN_EXTRACTION_STATUSES
from curation.models import Extraction
from curation.services import public_bundle
from studies.choices import IdentityEvidence
from studies.models import Patient, Person, Publication, StudyReport
from summaries.services import mark_changed, study_key

from .models import DismissedSuggestion, LinkAction, LinkKind, LinkRequest, LinkStatus


class LinkRefused(Exception):
    """The action is not possible; ``message`` says why, ``field`` names the input."""

    status_code = 409

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class LinkForbidden(LinkRefused):
    status_code = 403


# Describing ----------------------------------------------------------------------------------


def _patient_text(patient: Patient) -> str:
    return f"{patient.label} ({patient.source_publication.short_citation}, {patient.arm.label})"


def _load_patients(*ids: int | None) -> dict[int, Patient]:
    rows = (
        Patient.objects.filter(pk__in=[pk for pk in ids if pk])
        .select_related("arm", "source_publication", "person")
        .prefetch_related("source_publication__authors")
    )
    return {patient.pk: patient for patient in rows}


# Checking a change against the live data ----------------------------------------------------


def _check_same_person(patient: Patient, other: Patient, evidence: str) -> None:
    if patient.pk == other.pk:
        raise LinkRefused("A patient report cannot be linked to itself.", field="other_patient")
    if patient.source_publication_id == other.source_publication_id:
        raise LinkRefused(
            "Both reports are in the same publication: one publication reports a person "
            "once.", field="other_patient",
        )
    if evidence not in IdentityEvidence.values:
        raise LinkRefused("Say whether the link is confirmed or probable.", field="evidence")
    if patient.person_id and patient.person_id == other.person_id:
        raise LinkRefused(
            f"{patient.label} and {other.label} are already linked as the same person."
        )
    persons = {p.person_id for p in (patient, other) if p.person_id}
    reports = [patient, other]
    if persons:
        reports += list(
            Patient.objects.filter(person_id__in=persons)
            .exclude(pk__in=[patient.pk, other.pk])
            .select_related("source_publication")
            .prefetch_related("source_publication__authors")
        )
    seen: dict[int, Patient] = {}
    for report in reports:
        if report.source_publication_id in seen:
            earlier = seen[report.source_publication_id]
            raise LinkRefused(
                f"The person would have two reports in {report.source_publication}: "
                f"{earlier.label} and {report.label}. Undo one link first."
            )
        seen[report.source_publication_id] = report


def _check_supersedes(publication: Publication, newer: Publication) -> None:
    if publication.pk == newer.pk:
        raise LinkRefused("A publication cannot supersede itself.", field="newer")
    if publication.superseded_by_id == newer.pk:
        raise LinkRefused(f"{publication} is already superseded by {newer}.")
    if publication.superseded_by_id:
        raise LinkRefused(
            f"{publication} is already superseded by {publication.superseded_by}; undo that "
            "first.", field="publication",
        )
    publication.superseded_by = newer
    try:
        publication.clean()  # refuses a cycle
    except ValidationError as error:
        raise LinkRefused(" ".join(error.messages), field="newer") from error
    finally:
        publication.superseded_by_id = None
        publication.superseded_by = None


def _check(link: LinkRequest, patients: dict[int, Patient]) -> None:
    """Refuse a change that the live data no longer (or never) allows."""
    if link.kind == LinkKind.SAME_PERSON:
        patient = patients.get(link.patient_id)
        if patient is None:
            raise LinkRefused("The patient report no longer exists.", field="patient")
        if link.action == LinkAction.LINK:
            other = patients.get(link.other_patient_id)
            if other is None:
                raise LinkRefused("The other patient report no longer exists.",
                                  field="other_patient")
            _check_same_person(patient, other, link.evidence)
        elif not patient.person_id:
            raise LinkRefused(f"{patient.label} is not linked to anyone.", field="patient")
        else:
            other = patients.get(link.other_patient_id)
            if other is not None and other.person_id != patient.person_id:
                raise LinkRefused(
                    f"{patient.label} is no longer linked to {other.label}; propose again."
                )
        return
    if link.publication is None or link.newer is None:
        raise LinkRefused("One of the publications no longer exists.", field="publication")
    if link.action == LinkAction.LINK:
        _check_supersedes(link.publication, link.newer)
    elif link.publication.superseded_by_id != link.newer_id:
        raise LinkRefused(f"{link.publication} is not superseded by {link.newer} (any more).")


# Proposing -------------------------------------------------------------------------------------


def link_request_propose(
    *,
    proposer,
    kind: str,
    action: str = LinkAction.LINK,
    patient: Patient | None = None,
    other_patient: Patient | None = None,
    publication: Publication | None = None,
    newer: Publication | None = None,
    evidence: str = "",
    note: str = "",
    submit: bool = False,
) -> LinkRequest:
    """A curator proposes a change (a draft, or straight to review with ``submit``).

    Same person: ``patient`` and ``other_patient`` (link, with ``evidence``) or
    ``patient`` alone (unlink: it leaves its person). Supersedes: ``newer`` supersedes
    ``publication`` (link), or ``publication`` is no longer superseded (unlink)."""
    if not rules.is_curator(proposer):
        raise LinkForbidden("Only curators can propose links.")
    if kind not in LinkKind.values or action not in LinkAction.values:
        raise LinkRefused("Unknown kind of change.", field="kind")
    with transaction.atomic(), recorded_as(proposer, "Proposed"):
        link = _proposal(
            proposer=proposer, kind=kind, action=action, patient=patient,
            other_patient=other_patient, publication=publication, newer=newer,
            evidence=evidence, note=note,
        )
        if submit:
            link.status = LinkStatus.SUBMITTED
            link.submitted_at = timezone.now()
        try:
            with transaction.atomic():
                link.save()
        except IntegrityError as error:
            raise LinkRefused(
                "The same change is already proposed and waiting for review."
            ) from error
    return link


def _proposal(*, proposer, kind, action, patient, other_patient, publication, newer, evidence,
              note) -> LinkRequest:
    """The unsaved request, checked against the live data."""
    link = LinkRequest(kind=kind, action=action, proposer=proposer, note=note.strip())
    if kind == LinkKind.SAME_PERSON:
        if patient is None:
            raise LinkRefused("Choose the patient report.", field="patient")
        if action == LinkAction.LINK:
            if other_patient is None:
                raise LinkRefused("Choose the other patient report.", field="other_patient")
            first, second = sorted([patient.pk, other_patient.pk])
            link.patient_id, link.other_patient_id = first, second
            link.evidence = evidence
        else:
            # Remember one other report of the person, so that accepting detaches the
            # patient from this person only (not from one it was linked to meanwhile).
            link.patient_id = patient.pk
            link.other_patient_id = (
                Patient.objects.filter(person__reports=patient.pk, person__isnull=False)
                .exclude(pk=patient.pk).order_by("pk").values_list("pk", flat=True).first()
            )
        patients = _load_patients(link.patient_id, link.other_patient_id)
        _check(link, patients)
        link.description = _describe_identity(link, patients)
    else:
        if publication is None:
            raise LinkRefused("Choose the superseded publication.", field="publication")
        # As it is now, not as the caller loaded it.
        publication = Publication.objects.select_related("superseded_by").get(pk=publication.pk)
        if action == LinkAction.LINK:
            if newer is None:
                raise LinkRefused("Choose the publication that supersedes it.", field="newer")
            newer = Publication.objects.get(pk=newer.pk)
        else:
            newer = publication.superseded_by
            if newer is None:
                raise LinkRefused(f"{publication} is not superseded.", field="publication")
        link.publication, link.newer = publication, newer
        _check(link, {})
        verb = "is superseded by" if action == LinkAction.LINK else "is no longer superseded by"
        link.description = f"{publication} {verb} {newer}"[:500]
    return link


def _describe_identity(link: LinkRequest, patients: dict[int, Patient]) -> str:
    patient = patients[link.patient_id]
    if link.action == LinkAction.UNLINK:
        other = patients.get(link.other_patient_id)
        others = f"as {_patient_text(other)}" if other else "as its other reports"
        return f"{_patient_text(patient)} is not the same person {others}"[:500]
    other = patients[link.other_patient_id]
    evidence = IdentityEvidence(link.evidence).label.lower()
    return (f"{_patient_text(patient)} is the same person as {_patient_text(other)} "
            f"({evidence})")[:500]


def suggestion_dismiss(*, curator, patient: Patient, other_patient: Patient) -> None:
    """The curator judged a suggested pair to be different people: stop suggesting it."""
    if not rules.is_curator(curator):
        raise LinkForbidden("Only curators can dismiss suggestions.")
    first, second = sorted([patient.pk, other_patient.pk])
    if first == second:
        raise LinkRefused("A patient report is not a pair.")
    with transaction.atomic():
        DismissedSuggestion.objects.get_or_create(
            patient_id=first, other_patient_id=second, defaults={"dismissed_by": curator}
        )


# Transitions ------------------------------------------------------------------------------------


def _load(request_id: int) -> LinkRequest:
    link = LinkRequest.objects.select_related("proposer", "publication", "newer").filter(
        pk=request_id
    ).first()
    if link is None:
        raise LinkRefused("No such link request.")
    return link


def _claim(link: LinkRequest, *, statuses) -> LinkRequest:
    """Lock the request if its status is still one of ``statuses`` (two reviewers acting
    at once: the second is refused)."""
    claimed = LinkRequest.objects.filter(pk=link.pk, status__in=statuses).update(
        updated_at=timezone.now()
    )
    current = LinkRequest.objects.select_related("proposer", "publication", "newer").get(
        pk=link.pk
    )
    if not claimed:
        raise LinkRefused(
            f"Not possible: the request is {current.get_status_display().lower()} now."
        )
    return current


def link_request_submit(*, request_id: int, user) -> LinkRequest:
    """draft → submitted, by its proposer."""
    link = _load(request_id)
    if link.proposer_id != user.pk or not rules.is_curator(user):
        raise LinkForbidden("Only the curator who proposed it can submit it.")
    with transaction.atomic(), recorded_as(user, "Submitted for review"):
        link = _claim(link, statuses=[LinkStatus.DRAFT])
        _check(link, _load_patients(link.patient_id, link.other_patient_id))
        link.status = LinkStatus.SUBMITTED
        link.submitted_at = timezone.now()
        link.save()
    return link


def _check_reviewer(user, link: LinkRequest) -> None:
    if not rules.is_reviewer(user):
        raise LinkForbidden("Only reviewers can accept or reject link requests.")
    if link.proposer_id == user.pk:
        raise LinkForbidden("You cannot review your own link request.")


def link_request_reject(*, request_id: int, user, comment: str) -> LinkRequest:
    """submitted → rejected, with the reviewer's reason. Nothing live changes."""
    if not comment.strip():
        raise LinkRefused("Say why the link is rejected.", field="comment")
    link = _load(request_id)
    _check_reviewer(user, link)
    with transaction.atomic(), recorded_as(user, "Rejected"):
        link = _claim(link, statuses=[LinkStatus.SUBMITTED])
        link.status = LinkStatus.REJECTED
        link.reviewer = user
        link.reviewer_comment = comment.strip()
        link.reviewed_at = timezone.now()
        link.save()
    return link


def link_request_accept(*, request_id: int, user, comment: str = "") -> LinkRequest:
    """submitted → accepted: the change is applied to the live tables and the stored
    summaries of every study it touches are marked for refresh, in one transaction."""
    link = _load(request_id)
    _check_reviewer(user, link)
    reason = f"Link request {link.pk} accepted by {user.get_username()}"
    # Live rows are changed on the proposer's behalf, as accepted extractions are.
    with transaction.atomic(), recorded_as(link.proposer, reason):
        link = _claim(link, statuses=[LinkStatus.SUBMITTED])
        patients = _lock_patients(link)
        _check(link, patients)
        publications = _publications_concerned(link, patients)
        extractions = list(
            Extraction.objects.select_for_update()
            .filter(publication_id__in=publications, status__in=OPEN_EXTRACTION_STATUSES)
            .select_related("publication")
        )
        before = {e.publication_id: public_bundle(e.publication) for e in extractions}
        if link.kind == LinkKind.SAME_PERSON:
            studies = _apply_identity(link, patients)
        else:
            studies = _apply_supersession(link)
        mark_changed(study_key(pk) for pk in studies)
        _carry_over(link, extractions, before, user=user)
        with recorded_as(user, "Accepted"):
            link.status = LinkStatus.ACCEPTED
            link.reviewer = user
            link.reviewer_comment = comment.strip()
            link.reviewed_at = timezone.now()
            link.save()
    return link


# Applying ---------------------------------------------------------------------------------------


def _lock_patients(link: LinkRequest) -> dict[int, Patient]:
    """The request's patients and every other report of their persons, locked."""
    if link.kind != LinkKind.SAME_PERSON:
        return {}
    ids = [pk for pk in (link.patient_id, link.other_patient_id) if pk]
    persons = Patient.objects.filter(pk__in=ids, person__isnull=False).values("person_id")
    rows = (
        Patient.objects.select_for_update(of=("self",))
        .filter(Q(pk__in=ids) | Q(person_id__in=persons))
        .select_related("arm", "source_publication", "person")
        .prefetch_related("source_publication__authors")
    )
    return {patient.pk: patient for patient in rows}


def _publications_concerned(link: LinkRequest, patients: dict[int, Patient]) -> set[int]:
    """Publications whose bundle (export) the change alters."""
    if link.kind == LinkKind.SUPERSEDES:
        return {link.publication_id}
    return {p.source_publication_id for p in patients.values()}


def _apply_identity(link: LinkRequest, patients: dict[int, Patient]) -> set[int]:
    """Write the identity change; return the studies whose pooled numbers it moves."""
    touched: list[Patient] = []
    patient = patients[link.patient_id]
    if link.action == LinkAction.UNLINK:
        person = patient.person
        patient.person, patient.person_evidence = None, ""
        patient.save()
        touched.append(patient)
        rest = [p for p in patients.values() if p.person_id == person.pk and p.pk != patient.pk]
        if len(rest) <= 1:  # a person with one report is no link at all
            for other in rest:
                other.person, other.person_evidence = None, ""
                other.save()
                touched.append(other)
            person.delete()
        return {p.arm.study_id for p in touched}

    other = patients[link.other_patient_id]
    persons = sorted({p.person_id for p in (patient, other) if p.person_id})
    if persons:
        person = Person.objects.get(pk=persons[0])  # the older person survives a merge
        if link.note:
            person.note = f"{person.note}\n{link.note}".strip()
            person.save()
    else:
        person = Person.objects.create(created_by=link.proposer, note=link.note)
    for row in patients.values():
        if row.person_id == person.pk:
            continue
        merged = row.person_id is not None and row.pk not in (patient.pk, other.pk)
        row.person = person
        # A report moving along with its merged person keeps its own evidence.
        row.person_evidence = row.person_evidence if merged else link.evidence
        row.save()
        touched.append(row)
    for old in persons[1:]:
        Person.objects.filter(pk=old).first().delete()
    return {p.arm.study_id for p in patients.values()}


def _apply_supersession(link: LinkRequest) -> set[int]:
    publication = Publication.objects.select_for_update().get(pk=link.publication_id)
    publication.superseded_by = link.newer if link.action == LinkAction.LINK else None
    publication.save()
    return set(
        StudyReport.objects.filter(
            publication_id__in=[link.publication_id, link.newer_id]
        ).values_list("study_id", flat=True)
    )


# Carrying the change over into open extractions -----------------------------------------------


def _patient_slots(document: dict | None) -> dict[tuple, dict]:
    """Patient entries of a bundle by (arm label, label); ambiguous ones left out."""
    found: dict[tuple, list[dict]] = {}
    patients = document.get("patients") if isinstance(document, dict) else None
    for entry in patients if isinstance(patients, list) else []:
        if isinstance(entry, dict):
            found.setdefault((entry.get("arm"), entry.get("label")), []).append(entry)
    return {key: entries[0] for key, entries in found.items() if len(entries) == 1}


_MISSING = object()
IDENTITY_KEYS = ("same_person_as", "person_evidence")


def _get(entry: dict | None, keys) -> tuple:
    entry = entry if isinstance(entry, dict) else {}
    return tuple(entry.get(key, _MISSING) for key in keys)


def _set(entry: dict, keys, values: tuple) -> None:
    for key, value in zip(keys, values, strict=True):
        if value is not _MISSING:
            entry[key] = value


def _carry_over(link: LinkRequest, extractions: list[Extraction], before: dict, *, user) -> None:
    """A three-way merge of the link keys into each open extraction. Where the curator
    left a link as it was, it becomes what it is now, in the payload and in the base,
    so that an extraction that was up to date stays up to date. Where the curator
    changed it too, nothing is touched: the live data then differs from the base, and
    the extraction cannot go on until its curator has compared the two (curation's
    base check)."""
    for extraction in extractions:
        old = before[extraction.publication_id]
        # Loaded again: the instance loaded before the change has the old links.
        new = public_bundle(Publication.objects.get(pk=extraction.publication_id))
        payload, base = extraction.payload, extraction.base
        slots = []
        if link.kind == LinkKind.SUPERSEDES:
            slots.append((old.get("publication"), new.get("publication"),
                          payload.get("publication"), (base or {}).get("publication"),
                          ("superseded_by",)))
        else:
            old_p, new_p = _patient_slots(old), _patient_slots(new)
            mine, based = _patient_slots(payload), _patient_slots(base)
            for key, new_entry in new_p.items():
                slots.append((old_p.get(key), new_entry, mine.get(key), based.get(key),
                              IDENTITY_KEYS))
        changed = False
        for old_entry, new_entry, payload_entry, base_entry, keys in slots:
            was, now = _get(old_entry, keys), _get(new_entry, keys)
            if was == now or not isinstance(payload_entry, dict):
                continue
            if not isinstance(base_entry, dict) or _get(base_entry, keys) != was:
                continue  # the extraction is behind the live data anyway: left to its curator
            if _get(payload_entry, keys) != was:
                continue  # the curator changed these links: they see the conflict
            _set(payload_entry, keys, now)
            _set(base_entry, keys, now)
            changed = True
        if changed:
            with recorded_as(user, f"Link request {link.pk} carried over"):
                extraction.version += 1  # an open form of the old version must not save
                extraction.save()
