"""Brute-force recomputation of the stored summary tables, in Python, for tests.

The disease × target table is checked against studies.summary (the reference
implementation of the pooling rules). The other tables have no reference, so they are
recomputed here from that module's contributions and the live rows, one object at a
time, as plainly as possible.
"""

from collections import defaultdict
from decimal import Decimal
from statistics import median

from studies.choices import TimePoint
from studies.models import OutcomeResult, Patient, StudyReport
from studies.summary import CRS_ANY, CRS_GRADE_2, ICANS_ANY, METRICS, pooled_summaries
from summaries.models import (
    ConstructSummary,
    DiseaseTargetMeasureSummary,
    DiseaseTargetSummary,
    YearSummary,
)

SAFETY = (CRS_ANY, CRS_GRADE_2, ICANS_ANY)


def _rate(rate):
    return None if rate is None else (rate.events, rate.evaluable)


def _median(values):
    return Decimal(str(median(values))) if values else None


def _decimal(value):
    return None if value is None else Decimal(value).normalize()


# What is stored --------------------------------------------------------------------------


def stored_tables() -> dict:
    """Every summary row as plain data keyed by natural key (no ids, no timestamps)."""
    groups = {
        (row.disease.code, row.target_key): {
            "label": row.target_label,
            "studies": row.studies,
            "publications": row.publications,
            "patients": row.patients,
            **{metric: _rate(row.rate(metric)) for metric in METRICS},
            "response_measures": list(row.response_measures),
            "follow_up": _decimal(row.median_follow_up_days),
        }
        for row in DiseaseTargetSummary.objects.select_related("disease")
    }
    measures = {
        (row.disease.code, row.target_key, row.measure.code): {
            "studies": row.studies,
            "rate": _rate(row.rate),
            "values": row.value_count,
            "median": _decimal(row.median),
            "minimum": _decimal(row.minimum),
            "maximum": _decimal(row.maximum),
        }
        for row in DiseaseTargetMeasureSummary.objects.select_related("disease", "measure")
    }
    constructs = {
        row.construct.name: {
            "studies": row.studies,
            "publications": row.publications,
            "patients": row.patients,
            "diseases": row.diseases,
            **{metric: _rate(row.rate(metric)) for metric in SAFETY},
            "follow_up": _decimal(row.median_follow_up_days),
        }
        for row in ConstructSummary.objects.select_related("construct")
    }
    years = {
        row.year: {
            "publications": row.publications,
            "studies_first_reported": row.studies_first_reported,
            "studies_pooled": row.studies_pooled,
            "patients": row.patients,
        }
        for row in YearSummary.objects.all()
    }
    return {"groups": groups, "measures": measures, "constructs": constructs, "years": years}


# What it should be --------------------------------------------------------------------------


def _timepoint_order(result):
    if result.timepoint == TimePoint.LAST_FOLLOW_UP:
        return (2, 0)
    if result.timepoint == TimePoint.DAY:
        return (1, result.day or 0)
    return (0, result.day or 0)


def _latest(rows):
    return max(rows, key=_timepoint_order) if rows else None


class _Contributions:
    """studies.summary contributions, with what each one counts, recomputed by hand."""

    def __init__(self):
        self.summaries = pooled_summaries()
        self.all = [c for s in self.summaries for c in s.contributions]
        self.counted_by_arm = defaultdict(list)  # arm id -> [(patient id, disease id)]
        for c in self.all:
            for evidence in c.patient_evidence:
                if evidence.patient_id:
                    self.counted_by_arm[c.arm.pk].append((evidence.patient_id, c.disease.pk))
        self.results = defaultdict(list)  # (patient or arm, id) -> results
        for result in OutcomeResult.objects.select_related("measure"):
            subject = ("patient", result.patient_id) if result.patient_id else ("arm",
                                                                                result.arm_id)
            self.results[subject].append(result)
        self.patients = Patient.objects.in_bulk()

    def counted(self, c) -> list[Patient]:
        return [self.patients[e.patient_id] for e in c.patient_evidence if e.patient_id]

    def reported(self, c) -> list[Patient]:
        return [
            p for p in self.patients.values()
            if p.arm_id == c.arm.pk and p.source_publication_id == c.report.pk
        ]

    def level(self, c) -> str:
        if self.counted(c):
            return "patient"
        return "empty" if self.reported(c) else "arm"

    def single(self, c) -> bool:
        counted = self.counted_by_arm[c.arm.pk]
        return len({d for _, d in counted}) == 1 and len(counted) == len(self.reported(c))

    def arm_rate(self, c, measure_id):
        rows = [
            r for r in self.results[("arm", c.arm.pk)]
            if r.measure_id == measure_id and r.source_publication_id == c.report.pk
            and r.n_events is not None and r.n_evaluable
        ]
        latest = _latest(rows)
        return None if latest is None else (latest.n_events, latest.n_evaluable)

    def measure_rates(self, c) -> dict[int, tuple[int, int]]:
        """Events over evaluable per measure, as the main outcome is pooled."""
        level = self.level(c)
        if level == "empty":
            return {}
        arm_measures = {r.measure_id for r in self.results[("arm", c.arm.pk)]}
        if level == "arm":
            rates = {m: self.arm_rate(c, m) for m in arm_measures}
            return {m: rate for m, rate in rates.items() if rate}
        rates = {}
        by_measure = defaultdict(lambda: [0, 0])
        for patient in self.counted(c):
            rows_by_measure = defaultdict(list)
            for r in self.results[("patient", patient.pk)]:
                if r.value_bool is not None:
                    rows_by_measure[r.measure_id].append(r)
            for measure_id, rows in rows_by_measure.items():
                by_measure[measure_id][0] += int(_latest(rows).value_bool)
                by_measure[measure_id][1] += 1
        rates = {m: tuple(rate) for m, rate in by_measure.items()}
        if self.single(c):
            for m in arm_measures - set(rates):
                if rate := self.arm_rate(c, m):
                    rates[m] = rate
        return rates

    def latest_numbers(self, c) -> dict[int, list[Decimal]]:
        numbers = defaultdict(list)
        for patient in self.counted(c):
            rows_by_measure = defaultdict(list)
            for r in self.results[("patient", patient.pk)]:
                if r.value is not None:
                    rows_by_measure[r.measure_id].append(r)
            for measure_id, rows in rows_by_measure.items():
                numbers[measure_id].append(_latest(rows).value)
        return numbers


def expected_tables() -> dict:
    contributions = _Contributions()
    groups = {}
    measures = {}
    for s in contributions.summaries:
        follow_ups = [
            p.follow_up_days
            for c in s.contributions
            for p in contributions.counted(c)
            if p.follow_up_days is not None
        ]
        groups[(s.disease.code, s.targets.key)] = {
            "label": s.targets.label,
            "studies": s.studies,
            "publications": s.publications,
            "patients": s.patients,
            **{metric: _rate(s.rate(metric)) for metric in METRICS},
            "response_measures": s.response_measures,
            "follow_up": _decimal(_median(follow_ups)),
        }
        rates = defaultdict(lambda: [0, 0])
        numbers = defaultdict(list)
        studies = defaultdict(set)
        for c in s.contributions:
            for measure_id, (events, evaluable) in contributions.measure_rates(c).items():
                rates[measure_id][0] += events
                rates[measure_id][1] += evaluable
                studies[measure_id].add(c.study.pk)
            for measure_id, values in contributions.latest_numbers(c).items():
                numbers[measure_id] += values
                studies[measure_id].add(c.study.pk)
        codes = {r.measure_id: r.measure.code for rows in contributions.results.values()
                 for r in rows}
        for measure_id in studies:
            values = numbers.get(measure_id, [])
            rate = rates.get(measure_id)
            measures[(s.disease.code, s.targets.key, codes[measure_id])] = {
                "studies": len(studies[measure_id]),
                "rate": tuple(rate) if rate else None,
                "values": len(values),
                "median": _decimal(_median(values)),
                "minimum": _decimal(min(values, default=None)),
                "maximum": _decimal(max(values, default=None)),
            }
    return {
        "groups": groups,
        "measures": measures,
        "constructs": _expected_constructs(contributions),
        "years": _expected_years(contributions),
    }


def _publications_of(study_ids) -> set[int]:
    return set(
        StudyReport.objects.filter(study_id__in=study_ids).values_list("publication_id",
                                                                       flat=True)
    )


def _expected_constructs(contributions: _Contributions) -> dict:
    by_construct = defaultdict(list)
    for c in contributions.all:
        for construct in {p.construct for p in c.arm.products.all()}:
            by_construct[construct.name].append(c)
    constructs = {}
    for name, found in by_construct.items():
        follow_ups = [
            p.follow_up_days for c in found for p in contributions.counted(c)
            if p.follow_up_days is not None
        ]
        rates = {}
        for metric in SAFETY:
            present = [c.rate(metric) for c in found if c.rate(metric) is not None]
            rates[metric] = (
                (sum(r.events for r in present), sum(r.evaluable for r in present))
                if present else None
            )
        studies = {c.study.pk for c in found}
        constructs[name] = {
            "studies": len(studies),
            "publications": len(_publications_of(studies)),
            "patients": sum(c.patient_count for c in found),
            "diseases": len({c.disease.pk for c in found}),
            **rates,
            "follow_up": _decimal(_median(follow_ups)),
        }
    return constructs


def _expected_years(contributions: _Contributions) -> dict:
    reports = list(StudyReport.objects.select_related("publication"))
    publications = defaultdict(set)
    first_year = {}
    for report in reports:
        year = report.publication.year
        publications[year].add(report.publication_id)
        first_year[report.study_id] = min(year, first_year.get(report.study_id, year))
    first = defaultdict(int)
    for year in first_year.values():
        first[year] += 1
    pooled_studies = defaultdict(set)
    patients = defaultdict(int)
    for c in contributions.all:
        pooled_studies[c.report.year].add(c.study.pk)
        patients[c.report.year] += c.patient_count
    years = {}
    for year in set(publications) | set(first) | set(pooled_studies):
        years[year] = {
            "publications": len(publications[year]),
            "studies_first_reported": first[year],
            "studies_pooled": len(pooled_studies[year]),
            "patients": patients[year],
        }
    return years


def differences(stored: dict, expected: dict) -> list[str]:
    """Readable differences between two table dumps, empty when they agree."""
    problems = []
    for table in expected:
        for key in sorted(set(stored[table]) | set(expected[table]), key=str):
            got, want = stored[table].get(key), expected[table].get(key)
            if got != want:
                problems.append(f"{table} {key}: stored {got}, expected {want}")
    return problems
