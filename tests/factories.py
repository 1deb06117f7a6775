"""factory-boy factories shared by every test suite.

Each factory builds one valid row, creating whatever it needs. A few conventions:

- Curated rows are created by a shared "factory-curator" user unless a test passes
  created_by=... (use a named user when authorship matters to the test).
- Vocabulary factories get-or-create on code, so DiseaseFactory(code="sle") returns the
  seeded row when the vocabulary migration provides it.
- Sourced rows take their source publication from their subject (an arm's patients and
  results cite the arm's publication), and ArmFactory links that publication to the
  arm's study as a StudyReport, so that Patient.clean() and friends accept the rows.
- Numbers are Decimals, as the database returns them, so that model methods see the
  same types before and after a refresh.
- Users have unusable passwords (no hashing cost): log them in with client.force_login.
"""

from decimal import Decimal

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from factory.django import DjangoModelFactory

from studies.choices import (
    AdverseEventType,
    CellSource,
    DoseUnit,
    GradingSystem,
    MeasureKind,
    PublicationType,
    Registry,
    Sex,
    SourceKind,
    StudyDesign,
    StudyStatus,
    TimePoint,
    Vector,
)
from studies.models import (
    AdverseEvent,
    Antigen,
    Arm,
    ArmProduct,
    CarConstruct,
    ConstructAlias,
    CostimulatoryDomain,
    Country,
    Disease,
    LymphodepletionRegimen,
    OutcomeMeasure,
    OutcomeResult,
    Patient,
    Person,
    Publication,
    PublicationAuthor,
    RegistryId,
    Study,
    StudyReport,
    Therapy,
)

# Users ---------------------------------------------------------------------------------


class UserFactory(DjangoModelFactory):
    """A user; UserFactory(username="curator") returns the same user every time."""

    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.org")
    password = factory.LazyFunction(lambda: make_password(None))


def with_roles(username: str, *roles: str):
    """A user in the named role groups (made by curation's data migration)."""
    from django.contrib.auth.models import Group

    user = UserFactory(username=username)
    user.groups.add(*Group.objects.filter(name__in=roles))
    return user


class SuperuserFactory(UserFactory):
    username = factory.Sequence(lambda n: f"admin{n}")
    is_staff = True
    is_superuser = True


class CuratedFactory(DjangoModelFactory):
    class Meta:
        abstract = True

    created_by = factory.SubFactory(UserFactory, username="factory-curator")


class SourcedFactory(CuratedFactory):
    """Subclasses set source_publication (usually from their subject)."""

    class Meta:
        abstract = True

    source_kind = SourceKind.TABLE
    source_label = "Table 1"


# Vocabularies ----------------------------------------------------------------------------


class DiseaseFactory(DjangoModelFactory):
    class Meta:
        model = Disease
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"disease-{n}")
    name = factory.Sequence(lambda n: f"Test disease {n}")
    icd10 = "M35.9"


def sle() -> Disease:
    """Systemic lupus erythematosus, the seeded row when there is one."""
    return DiseaseFactory(
        code="sle", name="Systemic lupus erythematosus", abbreviation="SLE", icd10="M32"
    )


class AntigenFactory(DjangoModelFactory):
    class Meta:
        model = Antigen
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"antigen-{n}")
    name = factory.Sequence(lambda n: f"Test antigen {n}")


class CostimulatoryDomainFactory(DjangoModelFactory):
    class Meta:
        model = CostimulatoryDomain
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"costim-{n}")
    name = factory.Sequence(lambda n: f"Test domain {n}")


class TherapyFactory(DjangoModelFactory):
    class Meta:
        model = Therapy
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"therapy-{n}")
    name = factory.Sequence(lambda n: f"Test therapy {n}")


class LymphodepletionRegimenFactory(DjangoModelFactory):
    class Meta:
        model = LymphodepletionRegimen
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"regimen-{n}")
    name = factory.Sequence(lambda n: f"Test regimen {n}")


def _two_letters(n: int) -> str:
    return chr(ord("A") + n // 26 % 26) + chr(ord("A") + n % 26)


class CountryFactory(DjangoModelFactory):
    """Codes AA, AB, ... (not real countries); pass code="DE" for a real one."""

    class Meta:
        model = Country
        django_get_or_create = ("code",)

    code = factory.Sequence(_two_letters)
    name = factory.LazyAttribute(lambda country: f"Country {country.code}")


class OutcomeMeasureFactory(DjangoModelFactory):
    """A unitless score from 0 to 100; OutcomeMeasureFactory(binary=True) for yes/no."""

    class Meta:
        model = OutcomeMeasure
        django_get_or_create = ("code",)

    class Params:
        binary = factory.Trait(kind=MeasureKind.BINARY, min_value=None, max_value=None)

    code = factory.Sequence(lambda n: f"measure-{n}")
    name = factory.Sequence(lambda n: f"Test measure {n}")
    kind = MeasureKind.SCORE
    units = factory.LazyFunction(list)
    min_value = Decimal("0")
    max_value = Decimal("100")


# Publications and studies ----------------------------------------------------------------


class PublicationFactory(CuratedFactory):
    """A journal article with a unique DOI and PMID.

    PublicationFactory(authors=["Mackensen", "Müller"]) adds authors in that order."""

    class Meta:
        model = Publication
        skip_postgeneration_save = True

    title = factory.Sequence(lambda n: f"CD19 CAR T cells in refractory autoimmune disease {n}")
    journal = "Test Journal of Rheumatology"
    year = 2024
    doi = factory.Sequence(lambda n: f"10.5555/carlit.test.{n}")
    pmid = factory.Sequence(lambda n: 90_000_000 + n)
    publication_type = PublicationType.ARTICLE

    @factory.post_generation
    def authors(publication, create, family_names, **kwargs):
        if not create or not family_names:
            return
        PublicationAuthor.objects.bulk_create(
            PublicationAuthor(publication=publication, position=position, family_name=name)
            for position, name in enumerate(family_names, start=1)
        )


class PublicationAuthorFactory(DjangoModelFactory):
    """The next author of the publication (position counts on from the last one)."""

    class Meta:
        model = PublicationAuthor

    publication = factory.SubFactory(PublicationFactory)
    position = factory.LazyAttribute(lambda author: author.publication.authors.count() + 1)
    family_name = factory.Sequence(lambda n: f"Author{n}")
    given_names = "A."


class StudyFactory(CuratedFactory):
    class Meta:
        model = Study

    title = factory.Sequence(lambda n: f"CD19 CAR T cells for refractory SLE, study {n}")
    design = StudyDesign.COHORT
    phase = "1"
    status = StudyStatus.RECRUITING


class StudyReportFactory(CuratedFactory):
    class Meta:
        model = StudyReport

    study = factory.SubFactory(StudyFactory)
    publication = factory.SubFactory(PublicationFactory)


class RegistryIdFactory(CuratedFactory):
    class Meta:
        model = RegistryId

    study = factory.SubFactory(StudyFactory)
    registry = Registry.NCT
    identifier = factory.Sequence(lambda n: f"NCT{90_000_000 + n}")


# Constructs --------------------------------------------------------------------------------


class CarConstructFactory(CuratedFactory):
    """An autologous lentiviral CD19 CAR; CarConstructFactory(targets=[cd19, bcma]) for a
    dual-target one."""

    class Meta:
        model = CarConstruct
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"TEST-CART19.{n}")
    vector = Vector.LENTIVIRAL
    cell_source = CellSource.AUTOLOGOUS

    @factory.post_generation
    def targets(construct, create, antigens, **kwargs):
        if not create:
            return
        construct.targets.set(antigens or [AntigenFactory(code="cd19", name="CD19")])

    @factory.post_generation
    def costimulatory_domains(construct, create, domains, **kwargs):
        if create and domains:
            construct.costimulatory_domains.set(domains)


class ConstructAliasFactory(DjangoModelFactory):
    class Meta:
        model = ConstructAlias

    construct = factory.SubFactory(CarConstructFactory)
    alias = factory.Sequence(lambda n: f"TEST-ALIAS-{n}")


# Arms and patients -----------------------------------------------------------------------


class ArmFactory(SourcedFactory):
    """An SLE arm of a new study, cited from a publication that reports that study."""

    class Meta:
        model = Arm
        skip_postgeneration_save = True

    study = factory.SubFactory(StudyFactory)
    label = factory.Sequence(lambda n: f"SLE cohort {n}")
    disease = factory.LazyFunction(sle)
    n_patients = 5
    source_publication = factory.SubFactory(PublicationFactory)

    @factory.post_generation
    def reported(arm, create, extracted, **kwargs):
        """Links the source publication to the study (Patient.clean() requires it)."""
        if create:
            StudyReport.objects.get_or_create(
                study=arm.study,
                publication=arm.source_publication,
                defaults={"created_by": arm.created_by},
            )


class ArmProductFactory(SourcedFactory):
    """A CD19 CAR at 1 million CAR+ cells/kg, the next product of its arm."""

    class Meta:
        model = ArmProduct

    arm = factory.SubFactory(ArmFactory)
    construct = factory.SubFactory(CarConstructFactory)
    order = factory.LazyAttribute(lambda product: product.arm.products.count() + 1)
    dose_value = Decimal("1000000")
    dose_unit = DoseUnit.CELLS_PER_KG
    source_publication = factory.SelfAttribute("arm.source_publication")


class PersonFactory(CuratedFactory):
    class Meta:
        model = Person

    note = "Same age, sex and treatment dates in both reports."


class PatientFactory(SourcedFactory):
    """A patient of an arm, as reported by the arm's publication.

    To link an identity: PatientFactory(person=person, person_evidence="confirmed")."""

    class Meta:
        model = Patient

    arm = factory.SubFactory(ArmFactory)
    label = factory.Sequence(lambda n: f"Patient {n}")
    age_years = Decimal("30")
    sex = Sex.FEMALE
    primary_disease = factory.SelfAttribute("arm.disease")
    source_publication = factory.SelfAttribute("arm.source_publication")


# Results -----------------------------------------------------------------------------------


class OutcomeResultFactory(SourcedFactory):
    """An arm's yes/no outcome at day 180: 4 of 5 evaluable patients."""

    class Meta:
        model = OutcomeResult

    arm = factory.SubFactory(ArmFactory)
    patient = None
    measure = factory.SubFactory(OutcomeMeasureFactory, binary=True)
    timepoint = TimePoint.DAY
    day = 180
    n_evaluable = 5
    n_events = 4
    source_publication = factory.SelfAttribute("arm.source_publication")


class PatientResultFactory(OutcomeResultFactory):
    """One patient's score at day 180 (value 4 on a 0-100 score)."""

    arm = None
    patient = factory.SubFactory(PatientFactory)
    measure = factory.SubFactory(OutcomeMeasureFactory)
    value = Decimal("4")
    n_evaluable = None
    n_events = None
    source_publication = factory.SelfAttribute("patient.source_publication")


class AdverseEventFactory(SourcedFactory):
    """An arm's grade 1 CRS (ASTCT): 3 of 5 evaluable patients."""

    class Meta:
        model = AdverseEvent

    arm = factory.SubFactory(ArmFactory)
    patient = None
    event_type = AdverseEventType.CRS
    grading_system = GradingSystem.ASTCT
    grade = 1
    n_affected = 3
    n_evaluable = 5
    source_publication = factory.SelfAttribute("arm.source_publication")


class PatientAdverseEventFactory(AdverseEventFactory):
    """One patient's grade 1 CRS (ASTCT), from day 2 for 3 days."""

    arm = None
    patient = factory.SubFactory(PatientFactory)
    onset_day = 2
    duration_days = 3
    n_affected = None
    n_evaluable = None
    source_publication = factory.SelfAttribute("patient.source_publication")
