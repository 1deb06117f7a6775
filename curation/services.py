"""The review workflow: every change to an Extraction, and reverts of live records.

Each function is one transaction. Transitions claim the row with a conditional
UPDATE on (id, status, version), so two people acting on the same extraction at
once cannot both succeed: the second finds the version moved on and is refused.
Accepting imports the bundle into the live tables inside the same transaction,
so the data is public exactly when the extraction is accepted. Two curators'
independent extractions of one publication are not accepted one by one: a reviewer
reconciles them (curation.reconciliation) and the merged result takes the same path.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from imports.models import RegistryRecord
from studies.bundles import (
    FORMAT,
    BundleError,
    BundleInvalid,
    export_bundle,
    import_bundle,
    schema_errors,
)
from studies.identifiers import normalize_doi, normalize_registry_id
from studies.models import Publication

from . import reconciliation, rules
from .history import recorded_as
from .models import (
    EDITABLE_STATUSES,
    OPEN_STATUSES,
    Extraction,
    ExtractionStatus,
    Reconciliation,
)


class ExtractionRefused(Exception):
    """The action is not allowed now; ``message`` says why, for the person acting."""

    status_code = 409

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class ExtractionForbidden(ExtractionRefused):
    status_code = 403


class StaleVersion(ExtractionRefused):
    """Someone else changed the extraction after the form was opened."""

    def __init__(self, message: str, *, current: Extraction):
        super().__init__(message)
        self.current = current


class ExtractionInvalid(Exception):
    """The payload cannot be submitted or accepted; ``errors`` name row and field."""

    def __init__(self, errors: list[BundleError]):
        super().__init__(f"{len(errors)} problem(s)")
        self.errors = errors


class PublicationAlreadyPublic(ExtractionRefused):
    def __init__(self, publication: Publication):
        super().__init__(f"{publication} is already in the catalogue: edit it instead.")
        self.publication = publication


class AlreadyOpen(ExtractionRefused):
    def __init__(self, extraction: Extraction):
        super().__init__("You already have an open extraction of this publication.")
        self.extraction = extraction


# Helpers ---------------------------------------------------------------------------------


def empty_bundle(citation: dict) -> dict:
    """A new bundle for a publication that is not in the catalogue yet."""
    return {
        "format": FORMAT,
        "publication": citation,
        "constructs": [],
        "studies": [],
        "patients": [],
    }


def payload_identifiers(payload: dict) -> tuple[str | None, int | None]:
    citation = payload.get("publication") if isinstance(payload, dict) else None
    citation = citation if isinstance(citation, dict) else {}
    doi = citation.get("doi")
    pmid = citation.get("pmid")
    return (
        normalize_doi(doi) if isinstance(doi, str) else None,
        pmid if isinstance(pmid, int) and not isinstance(pmid, bool) else None,
    )


def live_publication(payload: dict, publication: Publication | None = None):
    """The public publication an extraction would write to (its own, or by DOI/PMID)."""
    if publication is not None:
        return publication
    doi, pmid = payload_identifiers(payload)
    query = Q(pk__in=[])
    if doi:
        query |= Q(doi=doi)
    if pmid:
        query |= Q(pmid=pmid)
    return Publication.objects.filter(query).first()


def public_bundle(publication: Publication) -> dict:
    """The public data of a publication as a bundle naming each study, arm and patient
    row by its id: an edit that renames one then updates it instead of adding a
    second one beside it (which the summaries would count twice)."""
    return export_bundle(publication, ids=True)


def live_state(extraction: Extraction) -> dict | None:
    """What is public now for the extraction's publication (None: nothing)."""
    publication = live_publication(extraction.payload, extraction.publication)
    return public_bundle(publication) if publication is not None else None


def _check_payload(payload) -> None:
    if not isinstance(payload, dict):
        raise ExtractionInvalid([BundleError("", "The payload must be a JSON object.")])
    doi, pmid = payload_identifiers(payload)
    if not doi and not pmid:
        raise ExtractionInvalid(
            [BundleError("publication", "Give the publication's DOI or PMID.")]
        )


def _load(extraction_id: int) -> Extraction:
    extraction = Extraction.objects.select_related("curator", "publication").filter(
        pk=extraction_id
    ).first()
    if extraction is None:
        raise ExtractionRefused("No such extraction.")
    return extraction


def _claim(extraction: Extraction, *, version: int, statuses) -> Extraction:
    """Raise the version if it is still ``version`` and the status one of ``statuses``;
    return the row as it is now (inside the caller's transaction, locked)."""
    claimed = Extraction.objects.filter(
        pk=extraction.pk, version=version, status__in=statuses
    ).update(version=F("version") + 1)
    current = Extraction.objects.select_related("curator", "publication").get(pk=extraction.pk)
    if claimed:
        return current
    if current.version != version:
        who = current.history.order_by("-history_id").values_list(
            "history_user__username", flat=True
        ).first()
        by = f" by {who}" if who else ""
        raise StaleVersion(
            f"Not saved: this extraction was changed{by} after you opened it (you had "
            f"version {version}, it is now at version {current.version}).",
            current=current,
        )
    raise ExtractionRefused(
        f"Not possible while the extraction is {current.get_status_display().lower()}."
    )


def _check_editor(user, extraction: Extraction) -> None:
    if rules.may_edit(user, extraction):
        return
    if rules.may_view(user, extraction) and extraction.status not in EDITABLE_STATUSES:
        raise ExtractionRefused(
            f"Not possible while the extraction is {extraction.get_status_display().lower()}."
        )
    raise ExtractionForbidden("You cannot change this extraction.")


class _DryRun(Exception):
    pass


def _import(extraction: Extraction, *, user):
    """import_bundle, plus the check that an edit writes to its own publication."""
    summary = import_bundle(extraction.payload, user=user)
    if extraction.publication_id and summary.publication.pk != extraction.publication_id:
        raise BundleInvalid([BundleError(
            "publication",
            f"This extraction edits {extraction.publication}; its DOI and PMID now name "
            "another publication. Keep at least one of them.",
        )])
    return summary


def extraction_problems(*, extraction: Extraction, user) -> list[BundleError]:
    """Everything that would stop the payload from being accepted now, by JSON path:
    the bundle schema, then a full import that is rolled back."""
    try:
        _check_payload(extraction.payload)
    except ExtractionInvalid as invalid:
        return invalid.errors
    errors = schema_errors(extraction.payload)
    if errors:
        return errors
    try:
        with transaction.atomic():
            _import(extraction, user=user)
            raise _DryRun()
    except _DryRun:
        return []
    except BundleInvalid as invalid:
        return invalid.errors


def _check_base(extraction: Extraction) -> None:
    current = live_state(extraction)
    if current == extraction.base:
        return
    if extraction.base is None:
        raise ExtractionRefused(
            "A publication with this DOI or PMID is in the catalogue already. Compare it "
            "on the workspace page and mark the extraction as up to date to make it an "
            "edit of that publication."
        )
    raise ExtractionRefused(
        "The public data of this publication changed after this extraction was "
        "started. Compare the changes on the workspace page and mark the extraction "
        "as up to date before it goes on."
    )


# Creating ---------------------------------------------------------------------------------


def extraction_create(*, curator, citation: dict) -> Extraction:
    """Start an extraction of a publication that is not in the catalogue yet."""
    if not rules.is_curator(curator):
        raise ExtractionForbidden("Only curators can start extractions.")
    payload = empty_bundle(citation)
    _check_payload(payload)
    existing = live_publication(payload)
    if existing is not None:
        raise PublicationAlreadyPublic(existing)
    doi, pmid = payload_identifiers(payload)
    mine = Extraction.objects.filter(
        curator=curator, status__in=OPEN_STATUSES, publication__isnull=True
    )
    same = (Q(payload__publication__doi=doi) if doi else Q(pk__in=[])) | (
        Q(payload__publication__pmid=pmid) if pmid else Q(pk__in=[])
    )
    open_one = mine.filter(same).first()
    if open_one is not None:
        raise AlreadyOpen(open_one)
    with transaction.atomic(), recorded_as(curator, "Started"):
        return Extraction.objects.create(curator=curator, payload=payload, base=None)


def extraction_import(*, curator, payload: dict) -> Extraction:
    """Start an extraction from a whole bundle document (the API's create)."""
    if not rules.is_curator(curator):
        raise ExtractionForbidden("Only curators can start extractions.")
    _check_payload(payload)
    payload = {"format": FORMAT, **payload}
    publication = live_publication(payload)
    if publication is not None:
        open_one = Extraction.objects.filter(
            curator=curator, publication=publication, status__in=OPEN_STATUSES
        ).first()
        if open_one is not None:
            raise AlreadyOpen(open_one)
    with transaction.atomic(), recorded_as(curator, "Started"):
        return Extraction.objects.create(
            curator=curator,
            publication=publication,
            payload=payload,
            base=public_bundle(publication) if publication is not None else None,
        )


def extraction_start_edit(*, curator, publication: Publication) -> Extraction:
    """A new draft seeded from the public data (which stays public meanwhile), or the
    curator's open extraction of this publication if there is one."""
    if not rules.is_curator(curator):
        raise ExtractionForbidden("Only curators can start extractions.")
    open_one = Extraction.objects.filter(
        curator=curator, publication=publication, status__in=OPEN_STATUSES
    ).first()
    if open_one is not None:
        return open_one
    current = public_bundle(publication)
    with transaction.atomic(), recorded_as(curator, "Started from the public version"):
        try:
            with transaction.atomic():
                return Extraction.objects.create(
                    curator=curator,
                    publication=publication,
                    payload=copy.deepcopy(current),
                    base=current,
                )
        except IntegrityError:  # the same curator, twice at once: take the first
            return Extraction.objects.get(
                curator=curator, publication=publication, status__in=OPEN_STATUSES
            )


# Editing ------------------------------------------------------------------------------------


def extraction_save(*, extraction_id: int, user, payload: dict, version: int) -> Extraction:
    """Save the payload of an open draft (incomplete is fine), if ``version`` is current."""
    extraction = _load(extraction_id)
    _check_editor(user, extraction)
    _check_payload(payload)
    with transaction.atomic(), recorded_as(user, "Saved"):
        extraction = _claim(extraction, version=version, statuses=EDITABLE_STATUSES)
        extraction.payload = {"format": FORMAT, **payload}
        extraction.save()
    return extraction


def _registry_ids_of(study) -> set[str]:
    entries = study.get("registry_ids") if isinstance(study, dict) else None
    found = set()
    for entry in entries if isinstance(entries, list) else []:
        identifier = entry.get("identifier") if isinstance(entry, dict) else entry
        if isinstance(identifier, str) and identifier.strip():
            found.add(normalize_registry_id(identifier))
    return found


def extraction_add_registry_study(
    *, extraction_id: int, user, registry_id: str, version: int
) -> tuple[Extraction, RegistryRecord]:
    """Append an imported registry record to the draft's studies (as
    ``RegistryRecord.as_bundle_study``), saved like any edit of the draft. Returns the
    record too (diseases prefetched): its conditions cannot become arms by themselves,
    since an arm needs a source, so the caller shows them to the curator."""
    identifier = normalize_registry_id(registry_id or "")
    if not identifier:
        raise ExtractionRefused("Give the registry id of an imported record, e.g. NCT05030779.")
    extraction = _load(extraction_id)
    _check_editor(user, extraction)
    record = RegistryRecord.objects.prefetch_related("countries", "diseases").filter(
        identifier=identifier
    ).first()
    if record is None:
        raise ExtractionRefused(
            f"No imported registry record has the id {identifier}. Import it first "
            "(Curation › Import citations or registry records)."
        )
    payload = copy.deepcopy(extraction.payload)
    studies = payload.get("studies") if isinstance(payload, dict) else None
    studies = studies if isinstance(studies, list) else []
    # On a stale version extraction_save refuses below, naming who saved meanwhile;
    # only a current payload is worth checking for the study.
    if extraction.version == version:
        for index, study in enumerate(studies):
            if identifier in _registry_ids_of(study):
                name = study.get("short_name") or study.get("key") or study.get("title")
                raise ExtractionRefused(
                    f"Not added: study {index + 1} ({name}) already has the registry id "
                    f"{identifier}."
                )
        keys = {study.get("key") for study in studies if isinstance(study, dict)}
        key = base = record.acronym or record.identifier
        number = 2
        while key in keys:
            key, number = f"{base}-{number}", number + 1
        payload["studies"] = [*studies, record.as_bundle_study(key=key)]
    extraction = extraction_save(
        extraction_id=extraction.pk, user=user, payload=payload, version=version
    )
    return extraction, record


def extraction_rebase(*, extraction_id: int, user, version: int) -> Extraction:
    """The curator has seen what changed in the public data since the draft was
    started (and carried over what they want to keep): take it as the new base."""
    extraction = _load(extraction_id)
    _check_editor(user, extraction)
    with transaction.atomic(), recorded_as(user, "Marked as up to date"):
        extraction = _claim(extraction, version=version, statuses=EDITABLE_STATUSES)
        extraction.base = live_state(extraction)
        if extraction.publication_id is None and extraction.base is not None:
            extraction.publication = live_publication(extraction.payload)
        extraction.save()
    return extraction


# Transitions --------------------------------------------------------------------------------


def extraction_submit(*, extraction_id: int, user, version: int) -> Extraction:
    """draft or returned → submitted, if the payload is complete and valid."""
    extraction = _load(extraction_id)
    _check_editor(user, extraction)
    with transaction.atomic(), recorded_as(user, "Submitted for review"):
        extraction = _claim(extraction, version=version, statuses=EDITABLE_STATUSES)
        _check_base(extraction)
        errors = extraction_problems(extraction=extraction, user=extraction.curator)
        if errors:
            raise ExtractionInvalid(errors)
        extraction.status = ExtractionStatus.SUBMITTED
        extraction.submitted_at = timezone.now()
        extraction.save()
    return extraction


def extraction_accept(
    *, extraction_id: int, user, version: int, comment: str = ""
) -> Extraction:
    """submitted → accepted: the payload is written to the live tables, in the same
    transaction. A reviewer cannot accept their own extraction, nor one of two
    independent extractions of a publication that are both waiting (reconcile them)."""
    extraction = _load(extraction_id)
    _check_reviewer(user, extraction)
    reason = f"Extraction {extraction.pk} accepted by {user.get_username()}"
    # Live rows are entered by the curator; history names them, and the reviewer in
    # the reason.
    with transaction.atomic(), recorded_as(extraction.curator, reason):
        extraction = _claim(extraction, version=version, statuses=[ExtractionStatus.SUBMITTED])
        _check_alone(extraction)
        _accept(extraction, user=user, comment=comment)
    return extraction


def _accept(extraction: Extraction, *, user, comment: str) -> Extraction:
    """Import a claimed, submitted extraction and mark it accepted, inside the
    caller's transaction (the accept path shared with reconciliation)."""
    _check_base(extraction)
    try:
        summary = _import(extraction, user=extraction.curator)
    except BundleInvalid as invalid:
        raise ExtractionInvalid(invalid.errors) from invalid
    with recorded_as(user, "Accepted"):
        extraction.publication = summary.publication
        extraction.status = ExtractionStatus.ACCEPTED
        extraction.reviewer = user
        extraction.reviewer_comment = comment
        extraction.reviewed_at = timezone.now()
        extraction.base = None
        extraction.save()
    return extraction


def extraction_reject(*, extraction_id: int, user, version: int, comment: str) -> Extraction:
    """submitted → returned to the curator, with the reviewer's comment."""
    if not comment.strip():
        raise ExtractionInvalid(
            [BundleError("comment", "Say what the curator should change.")]
        )
    extraction = _load(extraction_id)
    _check_reviewer(user, extraction)
    with transaction.atomic(), recorded_as(user, "Returned to the curator"):
        extraction = _claim(extraction, version=version, statuses=[ExtractionStatus.SUBMITTED])
        extraction.status = ExtractionStatus.REJECTED
        extraction.reviewer = user
        extraction.reviewer_comment = comment.strip()
        extraction.reviewed_at = timezone.now()
        extraction.save()
    return extraction


def _check_reviewer(user, extraction: Extraction) -> None:
    if not rules.is_reviewer(user):
        raise ExtractionForbidden("Only reviewers can accept or reject extractions.")
    if extraction.curator_id == user.pk:
        raise ExtractionForbidden("You cannot review your own extraction.")


# Dual extraction ------------------------------------------------------------------------------


class ReconciliationInvalid(Exception):
    """The reviewer's choices do not make an acceptable bundle; ``errors`` maps a
    decision id (a field, a row, or "" for the whole) to its messages."""

    def __init__(self, errors: dict[str, list[str]]):
        count = sum(len(messages) for messages in errors.values())
        super().__init__(f"{count} problem(s)")
        self.errors = errors


def _identities(extraction: Extraction) -> set[tuple]:
    """What names the extraction's publication: its id once public, its DOI, its PMID."""
    doi, pmid = payload_identifiers(extraction.payload)
    names = set()
    if extraction.publication_id:
        names.add(("publication", extraction.publication_id))
        publication = extraction.publication
        doi = doi or (normalize_doi(publication.doi) if publication.doi else None)
        pmid = pmid or publication.pmid
    if doi:
        names.add(("doi", doi))
    if pmid:
        names.add(("pmid", pmid))
    return names


def extraction_siblings(extraction: Extraction) -> list[Extraction]:
    """Other curators' open extractions of the same publication: matched by the public
    publication, or (not public yet) by the DOI or PMID in the payload."""
    names = _identities(extraction)
    query = Q(pk__in=[])
    for kind, value in names:
        if kind == "publication":
            query |= Q(publication_id=value)
        elif kind == "doi":  # narrowed in the database, matched exactly below
            query |= Q(publication__isnull=True, payload__publication__doi__icontains=value)
        else:
            query |= Q(publication__isnull=True, payload__publication__pmid=value)
    candidates = (
        Extraction.objects.filter(query, status__in=OPEN_STATUSES)
        .exclude(curator_id=extraction.curator_id)
        .select_related("curator", "publication")
        .order_by("submitted_at", "pk")
    )
    return [other for other in candidates if _identities(other) & names]


def _check_alone(extraction: Extraction) -> None:
    waiting = [s for s in extraction_siblings(extraction)
               if s.status == ExtractionStatus.SUBMITTED]
    if waiting:
        other = waiting[0]
        raise ExtractionRefused(
            f"{other.curator.get_username()}'s independent extraction of this publication "
            f"(extraction {other.pk}) is waiting for review too: reconcile the two on the "
            "reconciliation page instead of accepting one alone."
        )


def reconciliation_pairs(*, user) -> list[tuple[Extraction, Extraction]]:
    """Pairs of submitted extractions of one publication by two curators that ``user``
    may reconcile (never their own), earliest submitted first, each in one pair."""
    if not rules.is_reviewer(user):
        return []
    waiting = list(
        Extraction.objects.filter(status=ExtractionStatus.SUBMITTED)
        .select_related("curator", "publication")
        .order_by("submitted_at", "pk")
    )
    names = {extraction.pk: _identities(extraction) for extraction in waiting}
    paired: set[int] = set()
    pairs = []
    for index, first in enumerate(waiting):
        if first.pk in paired:
            continue
        second = next((
            other for other in waiting[index + 1:]
            if other.pk not in paired and other.curator_id != first.curator_id
            and names[first.pk] & names[other.pk]
        ), None)
        if second is None:
            continue
        paired |= {first.pk, second.pk}
        if user.pk not in (first.curator_id, second.curator_id):
            pairs.append((first, second))
    return pairs


def _check_reconciler(user, extraction_a: Extraction, extraction_b: Extraction) -> None:
    if not rules.is_reviewer(user):
        raise ExtractionForbidden("Only reviewers can reconcile extractions.")
    if user.pk in (extraction_a.curator_id, extraction_b.curator_id):
        raise ExtractionForbidden("You cannot reconcile your own extraction.")
    if extraction_a.pk == extraction_b.pk or extraction_a.curator_id == extraction_b.curator_id:
        raise ExtractionRefused("Reconciling needs two curators' extractions.")
    if not _identities(extraction_a) & _identities(extraction_b):
        raise ExtractionRefused("These two extractions are not of the same publication.")


def reconciliation_prepare(
    *, extraction_a_id: int, extraction_b_id: int, user
) -> tuple[Extraction, Extraction, reconciliation.Alignment]:
    """The two submitted extractions and their payloads lined up, for the page."""
    extraction_a, extraction_b = _load(extraction_a_id), _load(extraction_b_id)
    _check_reconciler(user, extraction_a, extraction_b)
    for extraction in (extraction_a, extraction_b):
        if extraction.status != ExtractionStatus.SUBMITTED:
            raise ExtractionRefused(
                f"Extraction {extraction.pk} is {extraction.get_status_display().lower()}: "
                "only two extractions waiting for review can be reconciled."
            )
    return extraction_a, extraction_b, reconciliation.align(
        extraction_a.payload, extraction_b.payload
    )


def extractions_reconcile(
    *,
    extraction_a_id: int,
    extraction_b_id: int,
    user,
    version_a: int,
    version_b: int,
    choices: Mapping[str, tuple[str, str]],
    comment: str = "",
) -> Reconciliation:
    """Merge two curators' submitted extractions of one publication as the reviewer
    chose, and accept the result, in one transaction.

    ``choices`` maps each disputed field (and each row only one side has) to ("a",
    ""), ("b", "") or ("custom", typed text). The merged payload must pass the same
    validation as any accepted extraction; problems are raised by decision id and
    nothing is written. Both sources are closed as merged, naming the reconciler; the
    result is a new extraction, made by the reviewer, accepted through the accept path.
    """
    extraction_a, extraction_b = _load(extraction_a_id), _load(extraction_b_id)
    _check_reconciler(user, extraction_a, extraction_b)
    own = Extraction.objects.filter(
        curator=user, status__in=OPEN_STATUSES,
        publication=extraction_a.publication or extraction_b.publication,
    ).exclude(publication=None)
    if own.exists():
        raise ExtractionRefused("You have an open extraction of this publication yourself: "
                                "another reviewer should reconcile it.")
    reason = (f"Reconciliation of extractions {extraction_a.pk} and {extraction_b.pk} by "
              f"{user.get_username()}")
    with transaction.atomic(), recorded_as(user, reason):
        submitted = [ExtractionStatus.SUBMITTED]
        extraction_a = _claim(extraction_a, version=version_a, statuses=submitted)
        extraction_b = _claim(extraction_b, version=version_b, statuses=submitted)
        _check_base(extraction_a)
        _check_base(extraction_b)
        alignment = reconciliation.align(extraction_a.payload, extraction_b.payload)
        merged = reconciliation.merge(alignment, choices)
        if merged.errors:
            raise ReconciliationInvalid(merged.errors)
        problems = schema_errors(merged.document)
        if problems:
            raise ReconciliationInvalid(reconciliation.locate_errors(alignment, merged, problems))

        now = timezone.now()
        agreement = (f"agreement {alignment.agreement_percent}% ({alignment.agreeing} of "
                     f"{alignment.compared} fields)")
        with recorded_as(user, f"Merged from extractions {extraction_a.pk} and "
                               f"{extraction_b.pk}"):
            result = Extraction.objects.create(
                curator=user,
                publication=extraction_a.publication or extraction_b.publication,
                payload=merged.document,
                base=extraction_a.base,
                status=ExtractionStatus.SUBMITTED,
                submitted_at=now,
            )
        note = f"Reconciled from extractions {extraction_a.pk} and {extraction_b.pk}: {agreement}."
        try:
            with recorded_as(user, reason):
                _accept(result, user=user,
                        comment=f"{note}\n{comment.strip()}" if comment.strip() else note)
        except ExtractionInvalid as invalid:
            raise ReconciliationInvalid(
                reconciliation.locate_errors(alignment, merged, invalid.errors)
            ) from invalid
        for source, other in ((extraction_a, extraction_b), (extraction_b, extraction_a)):
            with recorded_as(user, f"Merged with extraction {other.pk} by reconciliation"):
                source.status = ExtractionStatus.MERGED
                source.publication = result.publication
                source.reviewer = user
                source.reviewed_at = now
                source.reviewer_comment = (
                    f"Reconciled with an independent extraction: {agreement}.")
                source.base = None
                source.save()
        with recorded_as(user, "Reconciled"):
            return Reconciliation.objects.create(
                extraction_a=extraction_a,
                extraction_b=extraction_b,
                result=result,
                reviewer=user,
                decisions=merged.decisions,
                compared_fields=alignment.compared,
                agreeing_fields=alignment.agreeing,
                agreement_percent=alignment.agreement_percent,
            )


def reconciliation_of(extraction: Extraction) -> Reconciliation | None:
    """The reconciliation an extraction took part in (as a source or as the result)."""
    return (
        Reconciliation.objects.select_related(
            "extraction_a__curator", "extraction_b__curator", "result", "reviewer"
        )
        .filter(Q(extraction_a=extraction) | Q(extraction_b=extraction) | Q(result=extraction))
        .first()
    )


# Reverting live records -----------------------------------------------------------------------


def record_revert(*, instance, history_id: int, user, latest_history_id: int):
    """Put a live row back as it was in one of its historical versions. The revert is
    itself a change, recorded like any other. ``latest_history_id`` is the newest
    version the person saw: if the row changed since, nothing is done."""
    if not rules.may_revert(user):
        raise ExtractionForbidden("Only reviewers and admins can revert records.")
    model = type(instance)
    with transaction.atomic():
        locked = model._default_manager.select_for_update().filter(pk=instance.pk).first()
        if locked is None:
            raise ExtractionRefused("The record no longer exists.")
        newest = instance.history.order_by("-history_date", "-history_id").first()
        if newest is None or newest.history_id != latest_history_id:
            raise ExtractionRefused(
                "Not reverted: the record changed after you opened its history. "
                "Look at the newest version first."
            )
        target = instance.history.filter(history_id=history_id).first()
        if target is None:
            raise ExtractionRefused("No such version of this record.")
        restored = target.instance
        restored._state.adding = False  # the row exists: uniqueness checks exclude it
        when = timezone.localtime(target.history_date).strftime("%Y-%m-%d %H:%M")
        restored._change_reason = f"Reverted to the version of {when}"[:100]
        restored._history_user = user
        try:
            restored.full_clean()
        except ValidationError as error:
            raise ExtractionRefused(
                "Not reverted: the old version is no longer valid: " + "; ".join(error.messages)
            ) from error
        restored.save()
        for field in model.history.model._history_m2m_fields:
            target_name = field.m2m_reverse_field_name()
            ids = list(getattr(target, field.name).values_list(target_name, flat=True))
            getattr(restored, field.name).set(ids)
    return restored
