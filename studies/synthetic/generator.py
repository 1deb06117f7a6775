"""The random stream that invents studies, as plain rows (see writer.py).

One ``random.Random`` drives everything, study after study, and no choice depends
on a database id, so the same seed and size give the same rows in any database.
"""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal

from ..choices import (
    Administration,
    AdverseEventType,
    BinderOrigin,
    BinderType,
    CellSource,
    Domain,
    DoseUnit,
    GradingSystem,
    IdentityEvidence,
    Phase,
    PublicationType,
    Registry,
    Sex,
    SourceKind,
    StudyDesign,
    StudyStatus,
    TimePoint,
    Vector,
)
from ..models import (
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
from .shape import (
    CASE_TITLES,
    COSTIMULATION,
    COUNTRIES,
    CYTOPENIA_TERMS,
    GIVEN_NAMES,
    INFECTION_TERMS,
    JOURNALS,
    KINETICS,
    PRODUCT_PREFIXES,
    PROFILES,
    REGIMENS,
    SERIES_TITLES,
    SPONSORS,
    SURNAME_PARTS,
    TARGET_SETS,
    TRIAL_TITLES,
)

DOI_PREFIX = "10.5555/carlit-synth"

# Tables in the order they are written (parents first); the first group get ids
# before writing because other rows refer to them.
STUDIES_THROUGH = Study.countries.through
SECONDARY_THROUGH = Patient.secondary_diseases.through
THERAPIES_THROUGH = Patient.prior_therapies.through
REFERENCED = (CarConstruct, Person, Publication, Study, Arm, Patient)
WRITE_ORDER = (
    CarConstruct,
    CarConstruct.targets.through,
    CarConstruct.costimulatory_domains.through,
    ConstructAlias,
    Person,
    Publication,
    PublicationAuthor,
    Study,
    STUDIES_THROUGH,
    StudyReport,
    RegistryId,
    Arm,
    ArmProduct,
    Patient,
    SECONDARY_THROUGH,
    THERAPIES_THROUGH,
    OutcomeResult,
    AdverseEvent,
)
VISIT_DAYS = (30, 90, 180, 365, 540, 720)


class MissingVocabulary(Exception):
    pass


def weighted(rng: random.Random, table):
    values, weights = zip(*table, strict=True)
    return rng.choices(values, weights=weights)[0]


def number(value: float, places: int) -> Decimal:
    return Decimal(f"{value:.{places}f}")


class Generator:
    """Invents studies; ``rows`` collects them per model until the caller writes them."""

    def __init__(self, *, studies: int, seed: int, user_id: int):
        self.n_studies = studies
        self.seed = seed
        self.rng = random.Random(f"carlit-synthetic:{seed}:{studies}")
        self.user_id = user_id
        self.publication_count = 0
        self.trial_count = 0
        self.rows: dict = defaultdict(list)
        # Persons of case reports that a later series will include again.
        self.waiting_persons: list[dict] = []
        self._load_vocabularies()

    def take_rows(self) -> dict:
        rows, self.rows = self.rows, defaultdict(list)
        return rows

    def _load_vocabularies(self) -> None:
        def by_code(model):
            return {row.code: row for row in model.objects.all()}

        self.diseases = by_code(Disease)
        self.measures = {code: row.pk for code, row in by_code(OutcomeMeasure).items()}
        self.antigens = {code: row.pk for code, row in by_code(Antigen).items()}
        self.costims = {code: row.pk for code, row in by_code(CostimulatoryDomain).items()}
        self.therapies = {code: row.pk for code, row in by_code(Therapy).items()}
        self.countries = {code: row.pk for code, row in by_code(Country).items()}
        self.regimens = {code: row.pk for code, row in by_code(LymphodepletionRegimen).items()}
        needed = {c.measure for p in PROFILES.values() for c in p.courses}
        needed |= {c.measure for c in KINETICS} | {"drug-free-remission"}
        needed |= {r for p in PROFILES.values() for r in p.responses}
        missing = sorted(needed - set(self.measures))
        missing += sorted({c for p in PROFILES.values() for c in p.arm_codes} - set(self.diseases))
        missing += sorted({c for codes, _ in TARGET_SETS for c in codes} - set(self.antigens))
        missing += sorted({c for p in PROFILES.values() for c in p.therapies} - set(self.therapies))
        if missing:
            raise MissingVocabulary(", ".join(missing))
        self.profiles = [(code, profile.weight) for code, profile in PROFILES.items()]
        self.main_outcome = {code: d.main_outcome_id for code, d in self.diseases.items()}

    def curated(self, **fields) -> dict:
        fields["created_by_id"] = self.user_id
        return fields

    # Constructs ------------------------------------------------------------------------------

    def constructs(self) -> dict:
        """The product pool, about one product per 40 studies (at least 12), as rows."""
        rng = self.rng
        rows: dict = defaultdict(list)
        self.product_pool = []
        for index in range(1, max(12, self.n_studies // 40) + 1):
            target_codes = weighted(rng, TARGET_SETS)
            caar = target_codes[0] in ("dsg3", "musk")
            prefix = rng.choice(PRODUCT_PREFIXES)
            label = "-".join(code.upper() for code in target_codes)
            construct = self.curated(
                name=f"{prefix}-{label}.{self.seed:02d}{index:04d}",
                binder_type=BinderType.AUTOANTIGEN
                if caar
                else weighted(rng, ((BinderType.SCFV, 92), (BinderType.VHH, 8))),
                binder_origin=""
                if caar
                else weighted(
                    rng,
                    (
                        (BinderOrigin.MURINE, 55),
                        (BinderOrigin.HUMANISED, 25),
                        (BinderOrigin.HUMAN, 20),
                    ),
                ),
                binder_name="FMC63" if target_codes[0] == "cd19" and rng.random() < 0.7 else "",
                hinge=weighted(rng, ((Domain.CD8A, 70), (Domain.CD28, 20), (Domain.IGG4, 10))),
                transmembrane=weighted(rng, ((Domain.CD8A, 65), (Domain.CD28, 35))),
                vector=weighted(
                    rng,
                    (
                        (Vector.LENTIVIRAL, 70),
                        (Vector.GAMMA_RETROVIRAL, 15),
                        (Vector.TRANSPOSON, 6),
                        (Vector.MRNA, 4),
                        (Vector.GENE_EDITED, 5),
                    ),
                ),
                cell_source=weighted(
                    rng,
                    (
                        (CellSource.AUTOLOGOUS, 84),
                        (CellSource.ALLOGENEIC, 13),
                        (CellSource.IPSC, 3),
                    ),
                ),
                developer=rng.choice(SPONSORS),
                _targets=target_codes,
            )
            rows[CarConstruct].append(construct)
            rows[CarConstruct.targets.through] += [
                {"carconstruct_id": construct, "antigen_id": self.antigens[code]}
                for code in target_codes
            ]
            rows[CarConstruct.costimulatory_domains.through] += [
                {"carconstruct_id": construct, "costimulatorydomain_id": self.costims[code]}
                for code in weighted(rng, COSTIMULATION)
            ]
            if rng.random() < 0.3:
                rows[ConstructAlias].append(
                    {"construct_id": construct, "alias": f"{prefix}{self.seed:02d}{index:04d}"}
                )
            self.product_pool.append(construct)
        self.single_cd19 = [c for c in self.product_pool if c["_targets"] == ("cd19",)]
        self.single_bcma = [c for c in self.product_pool if c["_targets"] == ("bcma",)]
        return rows

    # Studies and publications --------------------------------------------------------------

    def study(self) -> None:
        rng = self.rng
        design = weighted(
            rng, ((StudyDesign.CASE, 35), (StudyDesign.COHORT, 40), (StudyDesign.TRIAL, 25))
        )
        profile = PROFILES[weighted(rng, self.profiles)]
        arm_count = 1 if design == StudyDesign.CASE else weighted(rng, ((1, 65), (2, 25), (3, 10)))
        products = [self.products_of_arm() for _ in range(arm_count)]
        lead = products[0][0]
        target_label = "/".join(code.upper() for code in lead["_targets"])
        disease = self.diseases[profile.arm_codes[0]]
        disease_name = (
            disease.name
            if disease.code == "sjogren"
            else (disease.name[0].lower() + disease.name[1:])
        )
        first_year = rng.choices(range(2019, 2026), weights=(1, 2, 4, 7, 11, 14, 16))[0]
        trial = design == StudyDesign.TRIAL
        sizes = [
            1
            if design == StudyDesign.CASE
            else rng.randint(2, 12)
            if design == StudyDesign.COHORT
            else rng.randint(3, 30)
            for _ in products
        ]
        phase, short_name, case = "", "", None
        if design == StudyDesign.CASE:
            # The patient of a case report, as its title describes them.
            case = (
                int(rng.uniform(*profile.ages)),
                Sex.FEMALE if rng.random() < profile.female else Sex.MALE,
            )
            person = "woman" if case[1] == Sex.FEMALE else "man"
            title = rng.choice(CASE_TITLES).format(
                target=target_label,
                product=lead["name"],
                disease=disease_name,
                patient=f"a {case[0]}-year-old {person}",
            )
        elif design == StudyDesign.COHORT:
            title = rng.choice(SERIES_TITLES).format(
                target=target_label,
                product=lead["name"],
                disease=disease_name,
                n=sum(sizes),
            )
        else:
            phase = weighted(
                rng,
                (
                    (Phase.PHASE_1, 45),
                    (Phase.PHASE_1_2, 30),
                    (Phase.EARLY_1, 15),
                    (Phase.PHASE_2, 10),
                ),
            )
            short_name = (
                f"{lead['name'].split('-')[0]}-{disease.abbreviation}-{self.trial_count + 1}"
            )
            title = rng.choice(TRIAL_TITLES).format(
                product=lead["name"],
                disease=disease_name,
                short_name=short_name,
                phase=Phase(phase).label.lower(),
            )
        start = date(first_year - rng.randint(1, 3), rng.randint(1, 12), 1) if trial else None
        study = self.curated(
            title=title,
            short_name=short_name,
            design=design,
            phase=phase,
            status=weighted(
                rng,
                (
                    (StudyStatus.RECRUITING, 45),
                    (StudyStatus.ACTIVE_NOT_RECRUITING, 20),
                    (StudyStatus.COMPLETED, 15),
                    (StudyStatus.NOT_YET_RECRUITING, 10),
                    (StudyStatus.TERMINATED, 3),
                    (StudyStatus.UNKNOWN, 7),
                ),
            )
            if trial
            else "",
            sponsor=rng.choice(SPONSORS) if trial else "",
            start_date=start,
            completion_date=start + timedelta(days=rng.randint(700, 2400))
            if start and rng.random() < 0.6
            else None,
        )
        self.rows[Study].append(study)
        codes: list[str] = []
        for _ in range(weighted(rng, ((1, 80), (2, 12), (3, 8))) if trial else 1):
            code = weighted(rng, COUNTRIES)
            if code not in codes:
                codes.append(code)
        self.rows[STUDIES_THROUGH] += [
            {"study_id": study, "country_id": self.countries[code]} for code in codes
        ]
        if trial:
            self.registry_ids(study)
        reports = self.reports(study, design, first_year, disease, lead, target_label)
        for index, (arm_products, size) in enumerate(zip(products, sizes, strict=True), start=1):
            self.arm(study, design, profile, index, arm_count, arm_products, size, reports, case)

    def products_of_arm(self) -> list[dict]:
        """Mostly one product (a dual-target construct counts as one); sometimes a CD19
        and a BCMA product given together."""
        rng = self.rng
        if rng.random() < 0.05 and self.single_cd19 and self.single_bcma:
            return [rng.choice(self.single_cd19), rng.choice(self.single_bcma)]
        return [rng.choice(self.product_pool)]

    def registry_ids(self, study: dict) -> None:
        rng = self.rng
        self.trial_count += 1
        count, seed = self.trial_count, self.seed
        check = f"{count % 90 + 10:02d}"
        registry = weighted(
            rng,
            ((Registry.NCT, 60), (Registry.CHICTR, 30), (Registry.EUDRACT, 6), (Registry.CTIS, 4)),
        )
        identifier = {
            Registry.NCT: f"NCT9{seed:02d}{count:05d}",
            Registry.CHICTR: f"ChiCTR9{seed:02d}{count:06d}",
            Registry.EUDRACT: f"{2000 + seed}-9{count:05d}-{check}",
            Registry.CTIS: f"{2000 + seed}-5{count:05d}-{check}-00",
        }[registry]
        self.rows[RegistryId].append(
            self.curated(study_id=study, registry=registry, identifier=identifier)
        )
        if registry == Registry.NCT and rng.random() < 0.1:
            # Multinational trials are often registered in the EU as well.
            self.rows[RegistryId].append(
                self.curated(
                    study_id=study,
                    registry=Registry.CTIS,
                    identifier=f"{2000 + seed}-7{count:05d}-{check}-00",
                )
            )

    def publication(self, *, year: int, kind: str, title: str, abstract: str) -> dict:
        rng = self.rng
        self.publication_count += 1
        count = self.publication_count
        indexed = kind not in (PublicationType.PREPRINT, PublicationType.COMPANY_UPDATE)
        first_page = rng.randint(1, 2400)
        publication = self.curated(
            title=title,
            journal="medRxiv" if kind == PublicationType.PREPRINT else rng.choice(JOURNALS),
            year=year,
            volume=str(rng.randint(5, 400)),
            issue=str(rng.randint(1, 12)),
            pages=f"{first_page}-{first_page + rng.randint(2, 14)}",
            doi=f"{DOI_PREFIX}.s{self.seed}.{count}",
            pmid=1_000_000_000 + self.seed * 10_000_000 + count if indexed else None,
            pmcid=f"PMC9{self.seed:02d}{count:07d}" if indexed and rng.random() < 0.3 else None,
            abstract=abstract,
            publication_type=kind,
            _places=self.places_in(kind),
        )
        self.rows[Publication].append(publication)
        self.rows[PublicationAuthor] += [
            {
                "publication_id": publication,
                "position": position,
                "family_name": rng.choice(SURNAME_PARTS[0]) + rng.choice(SURNAME_PARTS[1]),
                "given_names": rng.choice(GIVEN_NAMES),
            }
            for position in range(1, rng.randint(2, 12) + 1)
        ]
        return publication

    def reports(self, study, design, first_year, disease, lead, target_label) -> list[tuple]:
        """One to three reports, oldest first: (publication, follow-up in days)."""
        rng = self.rng
        count = (
            1
            if design == StudyDesign.CASE and rng.random() < 0.9
            else weighted(rng, ((1, 62), (2, 30), (3, 8)))
        )
        reports = []
        year = first_year
        follow_up = rng.choice((90, 180, 180, 270, 365))
        for index in range(count):
            if index:
                year = min(year + rng.randint(0, 2), 2026)
                follow_up += rng.choice((180, 365, 540))
            if design == StudyDesign.CASE:
                kind = PublicationType.CASE_REPORT if rng.random() < 0.6 else PublicationType.LETTER
            elif index == 0 and count > 1 and rng.random() < 0.4:
                kind = PublicationType.CONFERENCE_ABSTRACT
            else:
                kind = weighted(
                    rng,
                    (
                        (PublicationType.ARTICLE, 80),
                        (PublicationType.LETTER, 8),
                        (PublicationType.CONFERENCE_ABSTRACT, 7),
                        (PublicationType.PREPRINT, 3),
                        (PublicationType.COMPANY_UPDATE, 2),
                    ),
                )
            publication = self.publication(
                year=year,
                kind=kind,
                title=study["title"] + (" with longer follow-up" if index else ""),
                abstract=(
                    f"We report outcomes of {target_label} CAR T-cell therapy with "
                    f"{lead['name']} in refractory {disease.name} ({disease.abbreviation}) "
                    f"after {follow_up // 30} months of follow-up. Lymphodepletion preceded a "
                    f"single infusion. Disease activity, serology and safety (cytokine release "
                    f"syndrome, ICANS, infections) were assessed."
                ),
            )
            cutoff = date(year, 1, 1) - timedelta(days=rng.randint(30, 300))
            self.rows[StudyReport].append(
                self.curated(
                    study_id=study,
                    publication_id=publication,
                    data_cutoff=cutoff if rng.random() < 0.8 else None,
                )
            )
            reports.append((publication, follow_up))
        first, *later = [publication for publication, _ in reports]
        if (
            later
            and first["publication_type"] == PublicationType.CONFERENCE_ABSTRACT
            and later[0]["publication_type"] == PublicationType.ARTICLE
        ):
            first["superseded_by_id"] = later[0]
        return reports

    # Arms, patients, results ---------------------------------------------------------------

    def places_in(self, kind: str) -> list[tuple[str, str]]:
        """The few places in a publication that its numbers are cited from."""
        rng = self.rng
        if kind == PublicationType.CONFERENCE_ABSTRACT:
            return [(SourceKind.ABSTRACT, "Abstract")]
        places = []
        for _ in range(3):
            source = weighted(
                rng,
                (
                    (SourceKind.TABLE, 55),
                    (SourceKind.TEXT, 25),
                    (SourceKind.FIGURE, 12),
                    (SourceKind.SUPPLEMENT, 8),
                ),
            )
            places.append(
                (
                    source,
                    {
                        SourceKind.TABLE: f"Table {rng.randint(1, 4)}",
                        SourceKind.TEXT: f"p. {rng.randint(1, 14)}",
                        SourceKind.FIGURE: f"Fig. {rng.randint(1, 5)}{rng.choice('ABCD')}",
                        SourceKind.SUPPLEMENT: f"Table S{rng.randint(1, 9)}",
                    }[source],
                )
            )
        return places

    def sourced(self, publication: dict, **fields) -> dict:
        kind, label = self.rng.choice(publication["_places"])
        fields["source_publication_id"] = publication
        fields["source_kind"] = kind
        fields["source_label"] = label
        fields["created_by_id"] = self.user_id
        return fields

    def arm(self, study, design, profile, index, arm_count, products, size, reports, case):
        rng = self.rng
        code = profile.arm_codes[0] if rng.random() < 0.7 else rng.choice(profile.arm_codes)
        disease = self.diseases[code]
        if arm_count == 1:
            label = "Case" if design == StudyDesign.CASE else "All patients"
        elif design == StudyDesign.TRIAL:
            label = f"Dose level {index}"
        else:
            label = f"{disease.abbreviation or disease.name} cohort {index}"
        latest = reports[-1][0]
        arm = self.sourced(
            latest,
            study_id=study,
            label=label,
            disease_id=disease.pk,
            lymphodepletion_id=self.regimens.get(weighted(rng, REGIMENS)),
            n_patients=size,
            _design=design,
            _disease=code,
            _case=case,
        )
        self.rows[Arm].append(arm)
        escalation = design == StudyDesign.TRIAL and arm_count > 1
        dose = number(rng.choice((0.5, 1, 1, 1, 2, 3, 5)) * 1e6, 2)
        for order, construct in enumerate(products, start=1):
            if escalation and rng.random() < 0.1:
                dose_value, unit = number(1e8 * index, 2), DoseUnit.CELLS
            elif escalation or rng.random() < 0.9:
                dose_value, unit = dose * (index if escalation else 1), DoseUnit.CELLS_PER_KG
            else:
                dose_value, unit = None, ""
            self.rows[ArmProduct].append(
                self.sourced(
                    latest,
                    arm_id=arm,
                    construct_id=construct,
                    order=order,
                    administration=Administration.SINGLE
                    if len(products) == 1
                    else weighted(
                        rng, ((Administration.CO_INFUSED, 80), (Administration.SEQUENTIAL, 20))
                    ),
                    dose_value=dose_value,
                    dose_unit=unit,
                )
            )
        # Case reports and most series give each patient; trials mostly give arm totals.
        individual = design == StudyDesign.CASE or rng.random() < (
            0.7 if design == StudyDesign.COHORT else 0.3
        )
        patients: dict[str, dict] = {}
        for report_index, (publication, follow_up) in enumerate(reports):
            # An earlier report covers the patients treated by then.
            share = 1.0 if report_index == len(reports) - 1 else rng.uniform(0.4, 0.9)
            reported = max(1, round(size * share))
            if individual:
                for position in range(1, reported + 1):
                    self.patient(
                        arm, profile, publication, follow_up, report_index, position, patients
                    )
            else:
                self.arm_results(arm, profile, publication, reported, follow_up)

    def patient(self, arm, profile, publication, follow_up, report_index, position, patients):
        """One patient as one publication reports them; a patient reported again in a
        later publication of the study is linked to the same person."""
        rng = self.rng
        label = f"Patient {position}"
        earlier = patients.get(label)
        if earlier is not None:
            if earlier["person_id"] is None:
                earlier["person_id"] = self.person("Same patient in a later report of the study.")
                earlier["person_evidence"] = IdentityEvidence.CONFIRMED
            person, evidence = earlier["person_id"], earlier["person_evidence"]
            age, sex = earlier["age_years"], earlier["sex"]
            duration, primary = earlier["disease_duration_months"], earlier["primary_disease_id"]
        else:
            person, evidence = None, ""
            if arm["_design"] == StudyDesign.CASE and rng.random() < 0.08:
                person = self.person("Case report later included in a series.")
                evidence = IdentityEvidence.PROBABLE
                self.waiting_persons.append(person)
            elif (
                arm["_design"] != StudyDesign.CASE
                and position == 1
                and self.waiting_persons
                and rng.random() < 0.3
            ):
                person, evidence = self.waiting_persons.pop(0), IdentityEvidence.PROBABLE
            age = number(rng.uniform(*profile.ages), 1) if rng.random() < 0.95 else None
            sex = Sex.FEMALE if rng.random() < profile.female else Sex.MALE
            if arm["_case"]:
                age, sex = Decimal(arm["_case"][0]), arm["_case"][1]
            duration = number(rng.uniform(6, 180), 1) if rng.random() < 0.85 else None
            primary = arm["disease_id"]
        patient = self.sourced(
            publication,
            arm_id=arm,
            label=label,
            age_years=age,
            sex=sex,
            primary_disease_id=primary,
            disease_duration_months=duration,
            follow_up_days=follow_up + rng.randint(-30, 30),
            person_id=person,
            person_evidence=evidence,
        )
        self.rows[Patient].append(patient)
        patients[label] = patient
        if earlier is None and profile.secondary and rng.random() < 0.12:
            secondary = self.diseases[rng.choice(profile.secondary)].pk
            self.rows[SECONDARY_THROUGH].append({"patient_id": patient, "disease_id": secondary})
        if rng.random() < 0.6:
            chosen = rng.sample(profile.therapies, k=min(len(profile.therapies), rng.randint(2, 5)))
            self.rows[THERAPIES_THROUGH] += [
                {"patient_id": patient, "therapy_id": self.therapies[code]} for code in chosen
            ]
        self.patient_results(patient, profile, publication, report_index, arm["_disease"])
        self.patient_events(patient, publication)

    def person(self, note: str) -> dict:
        person = self.curated(note=note)
        self.rows[Person].append(person)
        return person

    def patient_results(self, patient, profile, publication, report_index, disease_code):
        rng = self.rng
        follow_up = patient["follow_up_days"]
        visits = [day for day in VISIT_DAYS if day <= follow_up]
        # The first report gives the early visits, an update the latest ones.
        visits = visits[-2:] if report_index else visits[:3]
        courses = [
            c
            for c in profile.courses
            if c.measure != "proteinuria" or disease_code == "lupus-nephritis"
        ]
        extra = rng.randint(0, 2)
        chosen = courses[:1] + rng.sample(courses[1:], k=min(len(courses[1:]), extra))
        responder = rng.random() < 0.8
        results = self.rows[OutcomeResult]
        for course in chosen:
            measure = self.measures[course.measure]
            start = rng.uniform(*course.baseline) if course.baseline else None
            best = rng.uniform(*course.after)
            if start is not None:
                results.append(
                    self.sourced(
                        publication,
                        patient_id=patient,
                        measure_id=measure,
                        timepoint=TimePoint.BASELINE,
                        value=number(start, course.places),
                        unit=course.unit,
                    )
                )
            for day in visits:
                if start is None:
                    value = best if responder else best * rng.uniform(0.3, 0.8)
                else:
                    # Most of the change comes within three months.
                    progress = min(1.0, day / 90) if responder else min(0.5, day / 180)
                    value = start + (best - start) * progress
                results.append(
                    self.sourced(
                        publication,
                        patient_id=patient,
                        measure_id=measure,
                        timepoint=TimePoint.DAY,
                        day=day,
                        value=number(value, course.places),
                        unit=course.unit,
                    )
                )
        timepoint = TimePoint.LAST_FOLLOW_UP if report_index else TimePoint.DAY
        for code in (*profile.responses[:1], "drug-free-remission"):
            if code == "drug-free-remission" and rng.random() < 0.5:
                continue
            results.append(
                self.sourced(
                    publication,
                    patient_id=patient,
                    measure_id=self.measures[code],
                    timepoint=timepoint,
                    day=follow_up,
                    value_bool=responder and rng.random() < 0.85,
                )
            )
        if report_index == 0 and rng.random() < 0.5:
            for course in rng.sample(KINETICS, k=rng.randint(1, len(KINETICS))):
                results.append(
                    self.sourced(
                        publication,
                        patient_id=patient,
                        measure_id=self.measures[course.measure],
                        timepoint=TimePoint.DAY,
                        day=rng.randint(7, 14),
                        value=number(rng.uniform(*course.after), course.places),
                        unit=course.unit,
                    )
                )

    def patient_events(self, patient, publication) -> None:
        rng = self.rng
        events = self.rows[AdverseEvent]
        crs = weighted(rng, ((0, 30), (1, 52), (2, 15), (3, 3)))
        events.append(
            self.sourced(
                publication,
                patient_id=patient,
                event_type=AdverseEventType.CRS,
                grading_system=GradingSystem.ASTCT,
                grade=crs,
                onset_day=rng.randint(0, 6) if crs else None,
                duration_days=rng.randint(1, 6) if crs else None,
            )
        )
        icans = weighted(rng, ((0, 90), (1, 8), (2, 2)))
        if icans or rng.random() < 0.6:
            events.append(
                self.sourced(
                    publication,
                    patient_id=patient,
                    event_type=AdverseEventType.ICANS,
                    grading_system=GradingSystem.ASTCT,
                    grade=icans,
                    onset_day=rng.randint(3, 10) if icans else None,
                )
            )
        if rng.random() < 0.3:
            events.append(
                self.sourced(
                    publication,
                    patient_id=patient,
                    event_type=AdverseEventType.INFECTION,
                    term=rng.choice(INFECTION_TERMS),
                    grading_system=GradingSystem.CTCAE,
                    grade=weighted(rng, ((1, 40), (2, 40), (3, 18), (4, 2))),
                    onset_day=rng.randint(10, 300),
                )
            )
        if rng.random() < 0.25:
            events.append(
                self.sourced(
                    publication,
                    patient_id=patient,
                    event_type=AdverseEventType.CYTOPENIA,
                    term=rng.choice(CYTOPENIA_TERMS),
                    grading_system=GradingSystem.CTCAE,
                    grade=weighted(rng, ((1, 20), (2, 30), (3, 35), (4, 15))),
                    onset_day=rng.randint(1, 60),
                )
            )

    def arm_results(self, arm, profile, publication, evaluable, follow_up) -> None:
        """Arm totals, as trials report them: responders, a score's median and range,
        and adverse events counted in the arm (one ungraded row, or one row per grade)."""
        rng = self.rng
        day = max(d for d in VISIT_DAYS if d <= max(follow_up, VISIT_DAYS[0]))
        results, events = self.rows[OutcomeResult], self.rows[AdverseEvent]
        binary = [self.measures["drug-free-remission"]]
        main = self.main_outcome.get(arm["_disease"])
        if main and main not in binary:
            binary.insert(0, main)
        for measure in binary:
            results.append(
                self.sourced(
                    publication,
                    arm_id=arm,
                    measure_id=measure,
                    timepoint=TimePoint.DAY,
                    day=day,
                    n_evaluable=evaluable,
                    n_events=round(evaluable * rng.uniform(0.4, 1.0)),
                )
            )
        if profile.courses:
            course = profile.courses[0]
            points = [(TimePoint.BASELINE, None, course.baseline)] if course.baseline else []
            points.append((TimePoint.DAY, day, course.after))
            for timepoint, at, (low, high) in points:
                low_value, median, high_value = sorted(rng.uniform(low, high) for _ in range(3))
                results.append(
                    self.sourced(
                        publication,
                        arm_id=arm,
                        measure_id=self.measures[course.measure],
                        timepoint=timepoint,
                        day=at,
                        n_evaluable=evaluable,
                        median=number(median, course.places),
                        minimum=number(low_value, course.places),
                        maximum=number(high_value, course.places),
                    )
                )
        crs_any = round(evaluable * rng.uniform(0.5, 1.0))
        if rng.random() < 0.5:
            events.append(
                self.sourced(
                    publication,
                    arm_id=arm,
                    event_type=AdverseEventType.CRS,
                    grading_system=GradingSystem.ASTCT,
                    n_affected=crs_any,
                    n_evaluable=evaluable,
                )
            )
        else:
            grade_2 = round(crs_any * rng.uniform(0, 0.3))
            for grade, affected in ((0, evaluable - crs_any), (1, crs_any - grade_2), (2, grade_2)):
                events.append(
                    self.sourced(
                        publication,
                        arm_id=arm,
                        event_type=AdverseEventType.CRS,
                        grading_system=GradingSystem.ASTCT,
                        grade=grade,
                        n_affected=affected,
                        n_evaluable=evaluable,
                    )
                )
        events.append(
            self.sourced(
                publication,
                arm_id=arm,
                event_type=AdverseEventType.ICANS,
                grading_system=GradingSystem.ASTCT,
                n_affected=round(evaluable * rng.uniform(0, 0.15)),
                n_evaluable=evaluable,
            )
        )
        if rng.random() < 0.5:
            events.append(
                self.sourced(
                    publication,
                    arm_id=arm,
                    event_type=AdverseEventType.INFECTION,
                    term="infection, grade 3 or worse",
                    grading_system=GradingSystem.CTCAE,
                    grade=3,
                    n_affected=round(evaluable * rng.uniform(0, 0.3)),
                    n_evaluable=evaluable,
                )
            )
