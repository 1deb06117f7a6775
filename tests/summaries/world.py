"""Random catalogues for the property test: a hypothesis strategy for a plan, a builder
that writes it through the ORM (so the summaries' receivers see every row), and random
edits of the kinds curators make."""

from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from hypothesis import strategies as st

from studies.choices import AdverseEventType, GradingSystem, PublicationType, TimePoint
from studies.models import (
    AdverseEvent,
    Antigen,
    Arm,
    ArmProduct,
    CarConstruct,
    Disease,
    OutcomeMeasure,
    OutcomeResult,
    Patient,
    Person,
    Publication,
    Study,
    StudyReport,
)
from tests.factories import DiseaseFactory, UserFactory

# "child" is a test disease under SLE without a main outcome of its own (it pools SLE's).
DISEASES = ["sle", "lupus-nephritis", "ssc", "child"]
CONSTRUCTS = {"T-CD19": ["cd19"], "T-BCMA": ["bcma"], "T-DUAL": ["cd19", "bcma"],
              "T-CD20": ["cd20"]}
# lupus nephritis's main outcome (complete renal response) is pooled only when lupus
# nephritis is in the data; drug-free remission is SSc's main outcome and pooled apart.
ANSWERS = ["doris", "complete-renal-response", "drug-free-remission", "lldas"]
NUMBERS = ["sledai-2k"]
SLOTS = [
    (TimePoint.BASELINE, -7),
    (TimePoint.DAY, 90),
    (TimePoint.DAY, 180),
    (TimePoint.LAST_FOLLOW_UP, 400),
]
FOLLOW_UPS = [None, 0, 30, 200, 365, 900]
CUTOFFS = [None, date(2021, 6, 30), date(2023, 1, 31), date(2024, 12, 31)]
GRADES = [None, 0, 1, 2, 3]


@dataclass
class Vocabulary:
    user: object
    diseases: dict[str, Disease]
    measures: dict[str, OutcomeMeasure]
    constructs: dict[str, CarConstruct]
    antigens: dict[str, Antigen]


def make_vocabulary() -> Vocabulary:
    user = UserFactory(username="property-curator")
    diseases = {code: Disease.objects.get(code=code) for code in DISEASES if code != "child"}
    diseases["child"] = DiseaseFactory(
        code="test-child", name="Test child of SLE", parent=diseases["sle"], icd10="M32.9"
    )
    measures = {m.code: m for m in OutcomeMeasure.objects.filter(code__in=ANSWERS + NUMBERS)}
    antigens = {a.code: a for a in Antigen.objects.filter(code__in=["cd19", "bcma", "cd20"])}
    constructs = {}
    for name, codes in CONSTRUCTS.items():
        construct = CarConstruct.objects.create(name=name, created_by=user)
        construct.targets.set(antigens[code] for code in codes)
        constructs[name] = construct
    return Vocabulary(user, diseases, measures, constructs, antigens)


# Plans ---------------------------------------------------------------------------------------


@st.composite
def _fraction(draw, max_evaluable=6):
    evaluable = draw(st.integers(0, max_evaluable))
    return draw(st.integers(0, evaluable)), evaluable


@st.composite
def _patient(draw, sources):
    return {
        "source": draw(sources),
        "disease": draw(st.one_of(st.none(), st.none(), st.sampled_from(DISEASES))),
        "follow_up": draw(st.sampled_from(FOLLOW_UPS)),
        "person": draw(st.one_of(st.none(), st.integers(0, 2))),
        # measure -> {slot: answer}: one value per time point, so "latest" is unique
        "answers": draw(
            st.dictionaries(
                st.sampled_from(ANSWERS),
                st.dictionaries(st.integers(0, 3), st.booleans(), min_size=1, max_size=2),
                max_size=2,
            )
        ),
        "numbers": draw(
            st.dictionaries(
                st.sampled_from(NUMBERS),
                st.dictionaries(st.integers(0, 3), st.integers(0, 40), min_size=1, max_size=2),
                max_size=1,
            )
        ),
        "events": draw(
            st.lists(
                st.tuples(st.sampled_from(["crs", "icans"]), st.sampled_from(GRADES)), max_size=2
            )
        ),
    }


@st.composite
def _arm(draw, sources):
    return {
        "disease": draw(st.sampled_from(DISEASES)),
        "constructs": draw(
            st.lists(st.sampled_from(list(CONSTRUCTS)), min_size=1, max_size=2, unique=True)
        ),
        "source": draw(sources),
        "n_patients": draw(st.one_of(st.none(), st.integers(0, 6))),
        "patients": draw(st.lists(_patient(sources), max_size=3)),
        # (source, measure, slot) -> (events, evaluable)
        "results": draw(
            st.dictionaries(
                st.tuples(sources, st.sampled_from(ANSWERS), st.integers(0, 3)),
                _fraction(),
                max_size=3,
            )
        ),
        "events": draw(
            st.lists(
                st.tuples(sources, st.sampled_from(["crs", "icans"]), st.sampled_from(GRADES),
                          _fraction()),
                max_size=3,
            )
        ),
    }


@st.composite
def study_plans(draw):
    publications = draw(
        st.lists(
            st.fixed_dictionaries(
                {
                    "year": st.integers(2020, 2024),
                    "cutoff": st.sampled_from(CUTOFFS),
                    "superseded": st.sampled_from([False, False, True]),
                }
            ),
            min_size=1,
            max_size=3,
        )
    )
    sources = st.integers(0, len(publications) - 1)
    return {
        "publications": publications,
        "arms": draw(st.lists(_arm(sources), min_size=1, max_size=2)),
        "shares_previous": draw(st.booleans()),
    }


world_plans = st.lists(study_plans(), min_size=1, max_size=3)

EDIT_KINDS = [
    "follow_up", "link", "unlink", "cutoff", "supersede", "year", "answer", "delete_result",
    "arm_disease", "arm_size", "arm_source", "product", "patient_disease", "grade",
    "delete_patient", "add_patient", "targets",
]
edits = st.lists(
    st.tuples(st.sampled_from(EDIT_KINDS), st.integers(0, 10_000), st.integers(0, 10_000)),
    min_size=1,
    max_size=6,
)


# Building ------------------------------------------------------------------------------------


@dataclass
class World:
    vocabulary: Vocabulary
    studies: list[Study] = field(default_factory=list)
    publications: list[Publication] = field(default_factory=list)
    reports: list[StudyReport] = field(default_factory=list)
    arms: list[Arm] = field(default_factory=list)
    products: list[ArmProduct] = field(default_factory=list)
    patients: list[Patient] = field(default_factory=list)
    persons: list[Person] = field(default_factory=list)
    labels: int = 0

    def sourced(self, publication) -> dict:
        return {"created_by": self.vocabulary.user, "source_publication": publication,
                "source_kind": "table", "source_label": "Table 1"}

    def add_patient(self, arm, publication, *, disease=None, follow_up=None, person=None):
        self.labels += 1
        patient = Patient.objects.create(
            arm=arm,
            label=f"P{self.labels}",
            primary_disease=disease or arm.disease,
            follow_up_days=follow_up,
            person=person,
            person_evidence="confirmed" if person else "",
            **self.sourced(publication),
        )
        self.patients.append(patient)
        return patient


@contextmanager
def receivers_off():
    """Write without the summaries' receivers (the caller rebuilds afterwards)."""
    from django.db.models.signals import m2m_changed, post_delete, post_init, post_save

    hooks = [post_init, post_save, post_delete, m2m_changed]
    saved = {hook: list(hook.receivers) for hook in hooks}
    for hook in hooks:
        hook.receivers = [r for r in hook.receivers if not str(r[0][0]).startswith("summaries-")]
        hook.sender_receivers_cache.clear()
    try:
        yield
    finally:
        for hook, receivers in saved.items():
            hook.receivers = receivers
            hook.sender_receivers_cache.clear()


def build(plan: list[dict], vocabulary: Vocabulary) -> World:
    """Write the plan's rows (without the receivers: the caller rebuilds after)."""
    with receivers_off():
        return _build(plan, vocabulary)


def _build(plan: list[dict], vocabulary: Vocabulary) -> World:
    world = World(vocabulary)
    user = vocabulary.user
    world.persons = [Person.objects.create(created_by=user) for _ in range(3)]
    for index, study_plan in enumerate(plan):
        study = Study.objects.create(title=f"Study {index}", design="cohort", created_by=user)
        world.studies.append(study)
        publications = []
        for pub_plan in study_plan["publications"]:
            number = len(world.publications)
            publication = Publication.objects.create(
                year=pub_plan["year"],
                doi=f"10.5555/property.{number}",
                publication_type=PublicationType.ARTICLE,
                created_by=user,
            )
            publications.append(publication)
            world.publications.append(publication)
            world.reports.append(
                StudyReport.objects.create(
                    study=study, publication=publication, data_cutoff=pub_plan["cutoff"],
                    created_by=user,
                )
            )
        for older, newer in zip(publications, publications[1:], strict=False):
            plan_of_older = study_plan["publications"][publications.index(older)]
            if plan_of_older["superseded"]:
                older.superseded_by = newer
                older.save()
        if study_plan["shares_previous"] and index:
            shared = world.studies[index - 1].reports.first().publication
            world.reports.append(
                StudyReport.objects.create(study=study, publication=shared, created_by=user)
            )
        for arm_index, arm_plan in enumerate(study_plan["arms"]):
            _build_arm(world, study, publications, arm_index, arm_plan)
    return world


def _build_arm(world, study, publications, arm_index, plan) -> None:
    vocabulary = world.vocabulary
    arm = Arm.objects.create(
        study=study,
        label=f"Arm {arm_index}",
        disease=vocabulary.diseases[plan["disease"]],
        n_patients=plan["n_patients"],
        **world.sourced(publications[plan["source"]]),
    )
    world.arms.append(arm)
    for order, name in enumerate(plan["constructs"], start=1):
        world.products.append(
            ArmProduct.objects.create(
                arm=arm, construct=vocabulary.constructs[name], order=order,
                **world.sourced(publications[plan["source"]]),
            )
        )
    for patient_plan in plan["patients"]:
        person = patient_plan["person"]
        patient = world.add_patient(
            arm,
            publications[patient_plan["source"]],
            disease=vocabulary.diseases[patient_plan["disease"]] if patient_plan["disease"]
            else None,
            follow_up=patient_plan["follow_up"],
            person=world.persons[person] if person is not None else None,
        )
        for code, answers in patient_plan["answers"].items():
            for slot, answer in answers.items():
                _result(world, patient=patient, measure=code, slot=slot, value_bool=answer)
        for code, numbers in patient_plan["numbers"].items():
            for slot, number in numbers.items():
                _result(world, patient=patient, measure=code, slot=slot, value=Decimal(number))
        for event_type, grade in patient_plan["events"]:
            AdverseEvent.objects.create(
                patient=patient, event_type=event_type, grade=grade,
                grading_system=GradingSystem.ASTCT if grade is not None else "",
                **world.sourced(patient.source_publication),
            )
    for (source, code, slot), (events, evaluable) in plan["results"].items():
        _result(world, arm=arm, measure=code, slot=slot, n_events=events,
                n_evaluable=evaluable, publication=publications[source])
    for source, event_type, grade, (affected, evaluable) in plan["events"]:
        AdverseEvent.objects.create(
            arm=arm, event_type=event_type, grade=grade,
            grading_system=GradingSystem.ASTCT if grade is not None else "",
            n_affected=affected, n_evaluable=evaluable,
            **world.sourced(publications[source]),
        )


def _result(world, *, measure, slot, publication=None, **values) -> OutcomeResult:
    timepoint, day = SLOTS[slot]
    subject = values.get("patient") or values.get("arm")
    return OutcomeResult.objects.create(
        measure=world.vocabulary.measures[measure],
        timepoint=timepoint,
        day=day,
        **values,
        **world.sourced(publication or subject.source_publication),
    )


# Editing -------------------------------------------------------------------------------------


def apply_edit(world: World, edit: tuple[str, int, int]) -> None:
    """One curator's edit through the ORM; edits that do not apply here are skipped."""
    kind, index, choice = edit
    vocabulary = world.vocabulary

    def pick(rows):
        return rows[index % len(rows)] if rows else None

    patient = pick([p for p in world.patients if p.pk])
    if kind == "follow_up" and patient:
        patient.follow_up_days = FOLLOW_UPS[choice % len(FOLLOW_UPS)]
        patient.save()
    elif kind == "link" and patient:
        patient.person = world.persons[choice % len(world.persons)]
        patient.person_evidence = "probable"
        patient.save()
    elif kind == "unlink" and patient:
        patient.person, patient.person_evidence = None, ""
        patient.save()
    elif kind == "cutoff":
        report = pick(world.reports)
        report.data_cutoff = CUTOFFS[choice % len(CUTOFFS)]
        report.save()
    elif kind == "supersede":
        # Only by a later publication, so that no chain loops back.
        publications = sorted(world.publications, key=lambda p: p.pk)
        position = index % len(publications)
        later = publications[position + 1:]
        publication = publications[position]
        publication.superseded_by = later[choice % len(later)] if later and choice % 2 else None
        publication.save()
    elif kind == "year":
        publication = pick(world.publications)
        publication.year = 2020 + choice % 5
        publication.save()
    elif kind == "answer":
        result = pick(list(OutcomeResult.objects.filter(value_bool__isnull=False)
                           .order_by("pk")))
        if result:
            result.value_bool = not result.value_bool
            result.save()
    elif kind == "delete_result":
        result = pick(list(OutcomeResult.objects.order_by("pk")))
        if result:
            result.delete()
    elif kind == "arm_disease":
        arm = pick(world.arms)
        arm.disease = vocabulary.diseases[DISEASES[choice % len(DISEASES)]]
        arm.save()
    elif kind == "arm_size":
        arm = pick(world.arms)
        arm.n_patients = [None, 0, 3, 10][choice % 4]
        arm.save()
    elif kind == "arm_source":
        arm = pick(world.arms)
        publications = [r.publication for r in world.reports if r.study_id == arm.study_id]
        arm.source_publication = publications[choice % len(publications)]
        arm.save()
    elif kind == "product":
        product = pick(world.products)
        names = list(CONSTRUCTS)
        product.construct = vocabulary.constructs[names[choice % len(names)]]
        product.save()
    elif kind == "patient_disease" and patient:
        patient.primary_disease = vocabulary.diseases[DISEASES[choice % len(DISEASES)]]
        patient.save()
    elif kind == "grade":
        event = pick(list(AdverseEvent.objects.order_by("pk")))
        if event:
            event.grade = GRADES[choice % len(GRADES)]
            event.grading_system = GradingSystem.ASTCT if event.grade is not None else ""
            event.save()
    elif kind == "delete_patient" and patient:
        for result in patient.results.all():
            result.delete()
        for event in patient.adverse_events.all():
            event.delete()
        patient.delete()
        patient.pk = None
    elif kind == "add_patient":
        arm = pick(world.arms)
        publications = [r.publication for r in world.reports if r.study_id == arm.study_id]
        added = world.add_patient(
            arm, publications[choice % len(publications)],
            follow_up=FOLLOW_UPS[choice % len(FOLLOW_UPS)],
            person=world.persons[choice % 3] if choice % 2 else None,
        )
        _result(world, patient=added, measure=ANSWERS[choice % len(ANSWERS)], slot=choice % 4,
                value_bool=bool(choice % 3))
        AdverseEvent.objects.create(
            patient=added, event_type=AdverseEventType.CRS, grade=GRADES[choice % len(GRADES)],
            grading_system=GradingSystem.ASTCT if GRADES[choice % len(GRADES)] is not None
            else "",
            **world.sourced(added.source_publication),
        )
    elif kind == "targets":
        construct = pick(list(vocabulary.constructs.values()))
        codes = [["cd19"], ["bcma"], ["cd19", "bcma"], ["cd20", "cd19"]][choice % 4]
        construct.targets.set(vocabulary.antigens[code] for code in codes)
