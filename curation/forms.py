"""Forms of the curation area. The workspace's forms read and write flat rows
(curation.payload), never live rows: a draft may be incomplete, and only the
checks that stop a value from being stored at all run when it is saved (a number
that is not a number, a value outside its measure's range, a grade outside its
scale, a reference to a row that does not exist). Completeness is checked on
submission, by the bundle importer, and its messages land on the same fields."""

from __future__ import annotations

import json
from dataclasses import dataclass

from django import forms
from django.forms import formset_factory
from django.urls import reverse

from studies.choices import (
    Administration,
    AdverseEventType,
    BinderOrigin,
    BinderType,
    CellSource,
    Domain,
    DoseUnit,
    GradingSystem,
    Phase,
    PublicationType,
    Sex,
    SourceKind,
    StudyDesign,
    StudyStatus,
    TimePoint,
    Vector,
)
from studies.identifiers import (
    detect_registry,
    is_valid_doi,
    normalize_doi,
    normalize_pmcid,
    normalize_registry_id,
)
from studies.models import (
    Antigen,
    CarConstruct,
    CostimulatoryDomain,
    Country,
    Disease,
    LymphodepletionRegimen,
    OutcomeMeasure,
    Therapy,
)
from studies.validation import grade_error, unit_error, value_range_error

from . import payload as rows_of
from .payload import SECTIONS, row_title

BLANK = [("", "—")]


def _blank(choices) -> list:
    return BLANK + list(choices)


# Vocabularies ---------------------------------------------------------------------------------


@dataclass
class Vocabularies:
    """Every vocabulary a workspace offers, read once per request."""

    diseases: list
    regimens: list
    measures: dict  # code -> OutcomeMeasure
    therapies: list
    countries: list
    antigens: list
    domains: list
    constructs: list  # names

    @classmethod
    def load(cls) -> Vocabularies:
        return cls(
            diseases=[(d.code, f"{d} — {d.name}" if d.abbreviation else d.name)
                      for d in Disease.objects.order_by("name")],
            regimens=[(r.code, r.name) for r in LymphodepletionRegimen.objects.order_by("name")],
            measures={m.code: m for m in OutcomeMeasure.objects.order_by("name")},
            therapies=[(t.code, t.name) for t in Therapy.objects.order_by("name")],
            countries=[(c.code, c.name) for c in Country.objects.order_by("name")],
            antigens=[(a.code, str(a)) for a in Antigen.objects.order_by("name")],
            domains=[(d.code, d.name) for d in CostimulatoryDomain.objects.order_by("name")],
            constructs=list(CarConstruct.objects.order_by("name").values_list("name", flat=True)),
        )

    def measure_choices(self) -> list:
        return [(code, measure_label(measure)) for code, measure in self.measures.items()]


def measure_label(measure: OutcomeMeasure) -> str:
    """'SLEDAI-2K — score, 0–105': the option text shows kind and range."""
    if measure.is_binary:
        return f"{measure} — {measure.get_kind_display().lower()}"
    return f"{measure} — {measure.get_kind_display().lower()}, {measure.range_display}"


def measure_hint(measure: OutcomeMeasure | None) -> str:
    if measure is None:
        return ""
    if measure.is_binary:
        return f"{measure.name}: yes/no (a patient), events of evaluable (an arm)."
    units = ", ".join(measure.units) if measure.units else "no unit"
    return f"{measure.name}: range {measure.range_display}; unit: {units}."


# Fields -----------------------------------------------------------------------------------------


class ListTextField(forms.CharField):
    """A list of strings typed as one line, separated by commas or semicolons."""

    widget = forms.TextInput

    def prepare_value(self, value):
        if isinstance(value, list):
            return ", ".join(str(item) for item in value)
        return value

    def to_python(self, value):
        if isinstance(value, list):
            return value
        text = super().to_python(value) or ""
        return [item.strip() for item in text.replace(";", ",").split(",") if item.strip()]


class RegistryIdsField(forms.CharField):
    """Registry ids typed as 'NCT05030779, ChiCTR2100045000'; the registry is read
    from each id's format."""

    def prepare_value(self, value):
        if isinstance(value, list):
            return ", ".join(
                item.get("identifier", "") for item in value if isinstance(item, dict)
            )
        return value

    def to_python(self, value):
        if isinstance(value, list):
            return value
        text = super().to_python(value) or ""
        found = []
        for raw in text.replace(";", ",").split(","):
            if not raw.strip():
                continue
            identifier = normalize_registry_id(raw)
            registry = detect_registry(identifier)
            if registry is None:
                raise forms.ValidationError(
                    f"'{raw.strip()}' is not an id of a known registry (NCT, ChiCTR, "
                    "EudraCT, CTIS)."
                )
            found.append({"registry": str(registry), "identifier": identifier})
        return found


class AuthorsField(forms.CharField):
    """One author per line: 'Family name, Given names'."""

    widget = forms.Textarea(attrs={"rows": 3})

    def prepare_value(self, value):
        if isinstance(value, list):
            return "\n".join(
                ", ".join(p for p in (a.get("family_name", ""), a.get("given_names", "")) if p)
                for a in value if isinstance(a, dict)
            )
        return value

    def to_python(self, value):
        if isinstance(value, list):
            return value
        text = super().to_python(value) or ""
        authors = []
        for line in text.splitlines():
            if not line.strip():
                continue
            family, _, given = line.partition(",")
            authors.append({"family_name": family.strip(), "given_names": given.strip()})
        return authors


class JsonHiddenField(forms.CharField):
    """Keys of an entry the form does not edit, carried through the page unchanged."""

    widget = forms.HiddenInput

    def prepare_value(self, value):
        if isinstance(value, dict):
            return json.dumps(value, ensure_ascii=False, sort_keys=True)
        return value

    def to_python(self, value):
        if isinstance(value, dict):
            return value
        if not value:
            return {}
        try:
            loaded = json.loads(value)
        except ValueError:
            raise forms.ValidationError("The page was damaged; reload it.") from None
        if not isinstance(loaded, dict):
            raise forms.ValidationError("The page was damaged; reload it.")
        return loaded


class YesNoField(forms.TypedChoiceField):
    def __init__(self, **kwargs):
        super().__init__(
            choices=[("", "—"), ("true", "yes"), ("false", "no")],
            coerce=lambda value: value == "true",
            empty_value=None,
            required=False,
            **kwargs,
        )

    def prepare_value(self, value):
        if value is True:
            return "true"
        if value is False:
            return "false"
        return value


def _decimal(label: str = "", **kwargs) -> forms.DecimalField:
    return forms.DecimalField(required=False, label=label or None, max_digits=20,
                              decimal_places=4, **kwargs)


def _integer(label: str = "", **kwargs) -> forms.IntegerField:
    return forms.IntegerField(required=False, label=label or None, **kwargs)


def _choice(choices, label: str = "", **kwargs) -> forms.ChoiceField:
    return forms.ChoiceField(choices=_blank(choices), required=False, label=label or None,
                             **kwargs)


def _date(label: str = "") -> forms.DateField:
    return forms.DateField(required=False, label=label or None,
                           widget=forms.DateInput(attrs={"type": "date"}))


def _text(label: str = "", **kwargs) -> forms.CharField:
    return forms.CharField(required=False, label=label or None, **kwargs)


def _many(label: str = "") -> forms.MultipleChoiceField:
    return forms.MultipleChoiceField(
        required=False, label=label or None, widget=forms.SelectMultiple(attrs={"size": 3})
    )


# Row forms --------------------------------------------------------------------------------------


class RowForm(forms.Form):
    """A workspace row. Choice fields take their options from the vocabularies, and a
    stored value missing from them stays on offer, so that opening and saving a
    draft never drops what was typed."""

    section = ""
    wide_fields = ("title", "notes", "abstract", "subject", "arm", "authors", "sponsor",
                   "registry_ids", "source_label")
    kept = JsonHiddenField(required=False)
    ref_was = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, vocab: Vocabularies, references: dict | None = None,
                 read_only: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.vocab = vocab
        self.references = references or {}
        self.set_choices()
        for name, field in self.fields.items():
            if isinstance(field, forms.ChoiceField):
                self._keep_current_choice(name, field)
            if read_only:
                field.disabled = True
            if name in ("study", "arm", "subject"):  # references: offer the known ones
                field.widget.attrs["list"] = f"refs-{self.reference_kind(name)}"
                field.widget.attrs["autocomplete"] = "off"

    @property
    def row_name(self) -> str:
        return rows_of.ROW_NAMES[self.section]

    def reference_kind(self, name: str) -> str:
        return {"study": "studies", "arm": "arms", "subject": "subjects"}[name]

    def set_choices(self) -> None:
        """Subclasses fill choice fields from self.vocab."""

    def _keep_current_choice(self, name: str, field: forms.ChoiceField) -> None:
        current = self._current(name)
        values = current if isinstance(current, list) else [current]
        known = {str(value) for value, _ in field.choices}
        extra = [(v, f"{v} (not in the vocabulary)") for v in values
                 if v not in (None, "") and str(v) not in known]
        if extra:
            field.choices = list(field.choices) + extra

    def _current(self, name: str):
        if self.is_bound:
            key = self.add_prefix(name)
            if isinstance(self.fields[name], forms.MultipleChoiceField):
                return self.data.getlist(key) if hasattr(self.data, "getlist") else []
            return self.data.get(key)
        return self.initial.get(name)

    @property
    def row_fields(self):
        """The visible fields, in the section's order."""
        return [self[name] for name in rows_of.FIELDS[self.section] if name in self.fields]

    def row(self) -> dict:
        data = dict(self.cleaned_data)
        data.pop("DELETE", None)
        return data


class PublicationForm(RowForm):
    section = "publication"
    doi = forms.CharField(label="DOI", required=False, max_length=200)
    pmid = forms.IntegerField(label="PMID", required=False, min_value=1)
    pmcid = forms.CharField(label="PMCID", required=False, max_length=20)
    title = _text(widget=forms.Textarea(attrs={"rows": 2}))
    journal = _text(max_length=300)
    year = forms.IntegerField(required=False, min_value=1950, max_value=2100)
    volume = _text(max_length=20)
    issue = _text(max_length=20)
    pages = _text(max_length=40)
    publication_type = _choice(PublicationType.choices, "Publication type")
    abstract = _text(widget=forms.Textarea(attrs={"rows": 3}))
    authors = AuthorsField(required=False, help_text="One per line: Family name, Given names.")

    def clean_doi(self):
        doi = normalize_doi(self.cleaned_data.get("doi") or "")
        if doi and not is_valid_doi(doi):
            raise forms.ValidationError(f"'{doi}' is not a DOI (10.<registrant>/<suffix>).")
        return doi

    def clean_pmcid(self):
        return normalize_pmcid(self.cleaned_data.get("pmcid") or "")

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("doi") and not cleaned.get("pmid") and not self.errors.get("doi") \
                and not self.errors.get("pmid"):
            raise forms.ValidationError("Give the publication's DOI or PMID (or both).")
        return cleaned


class NewPublicationForm(PublicationForm):
    """The citation of a publication that is not in the catalogue yet."""

    year = forms.IntegerField(min_value=1950, max_value=2100)
    publication_type = forms.ChoiceField(choices=_blank(PublicationType.choices),
                                         label="Publication type")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, vocab=None, **kwargs)
        for name in ("kept", "ref_was"):
            del self.fields[name]

    def citation(self) -> dict:
        values = self.row()
        values.pop("kept", None)
        citation = {name: values.get(name) for name in rows_of.PUBLICATION_FIELDS}
        for name in ("title", "journal", "volume", "issue", "pages", "abstract"):
            citation[name] = citation[name] or ""
        return {key: value for key, value in citation.items() if value not in (None, "", [])}


class ConstructForm(RowForm):
    section = "constructs"
    name = _text(max_length=200)
    aliases = ListTextField(required=False, help_text="Other names and codes, by commas.")
    targets = _many()
    binder_type = _choice(BinderType.choices)
    binder_origin = _choice(BinderOrigin.choices)
    binder_name = _text(max_length=100)
    hinge = _choice(Domain.choices)
    transmembrane = _choice(Domain.choices)
    costimulatory_domains = _many("Costimulatory domains")
    vector = _choice(Vector.choices)
    cell_source = _choice(CellSource.choices)
    developer = _text(max_length=200)
    notes = _text(widget=forms.Textarea(attrs={"rows": 2}))

    def set_choices(self):
        self.fields["targets"].choices = self.vocab.antigens
        self.fields["costimulatory_domains"].choices = self.vocab.domains


class StudyForm(RowForm):
    section = "studies"
    key = _text(max_length=60, help_text="A short handle that arms and patients use here.")
    title = _text(max_length=500)
    short_name = _text(max_length=100)
    design = _choice(StudyDesign.choices)
    phase = _choice(Phase.choices)
    status = _choice(StudyStatus.choices)
    sponsor = _text(max_length=300)
    countries = _many()
    start_date = _date()
    completion_date = _date()
    registry_ids = RegistryIdsField(required=False, label="Registry ids")
    data_cutoff = _date("Data cut-off")

    def set_choices(self):
        self.fields["countries"].choices = self.vocab.countries


class SourcedRowForm(RowForm):
    source_kind = _choice(SourceKind.choices, "Source")
    source_label = _text("Where", max_length=120,
                         widget=forms.TextInput(attrs={"placeholder": "Table 2, p. 5, Fig. 3B"}))


class ArmForm(SourcedRowForm):
    section = "arms"
    study = _text("Study key")
    label = _text(max_length=200)
    disease = _choice([])
    lymphodepletion = _choice([])
    n_patients = _integer("Patients", min_value=0)

    def set_choices(self):
        self.fields["disease"].choices = _blank(self.vocab.diseases)
        self.fields["lymphodepletion"].choices = _blank(self.vocab.regimens)

    def clean_lymphodepletion(self):
        return self.cleaned_data.get("lymphodepletion") or None


class ProductForm(SourcedRowForm):
    section = "products"
    arm = _text(help_text="<study key> / <arm label>")
    construct = _choice([], "Product (construct)")
    order = _integer(min_value=1, max_value=32767, initial=1)
    administration = forms.ChoiceField(choices=Administration.choices, required=False,
                                       initial=Administration.SINGLE)
    dose_value = _decimal("Dose")
    dose_value_max = _decimal("Dose (top of range)")
    dose_unit = _choice(DoseUnit.choices)

    def set_choices(self):
        names = list(dict.fromkeys([*self.references.get("new_constructs", []),
                                    *self.vocab.constructs]))
        self.fields["construct"].choices = _blank((name, name) for name in names)


class PatientForm(SourcedRowForm):
    section = "patients"
    arm = _text(help_text="<study key> / <arm label>")
    label = _text(max_length=60)
    age_years = _decimal("Age (years)", min_value=0, max_value=120)
    sex = _choice(Sex.choices)
    primary_disease = _choice([])
    secondary_diseases = _many()
    disease_duration_months = _decimal("Disease duration (months)", min_value=0)
    prior_therapies = _many()
    follow_up_days = _integer("Follow-up (days)", min_value=0)

    def set_choices(self):
        self.fields["primary_disease"].choices = _blank(self.vocab.diseases)
        self.fields["secondary_diseases"].choices = self.vocab.diseases
        self.fields["prior_therapies"].choices = self.vocab.therapies


class OutcomeForm(SourcedRowForm):
    section = "outcomes"
    subject = _text(help_text="arm: <study> / <arm>, or patient: <study> / <arm> / <label>")
    measure = _choice([])
    timepoint = _choice(TimePoint.choices, "Time point")
    day = _integer(help_text="Days after infusion.")
    value = _decimal()
    unit = _text(max_length=30)
    value_bool = YesNoField(label="Yes/no")
    n_evaluable = _integer("Evaluable", min_value=0)
    n_events = _integer("Events", min_value=0)
    median = _decimal()
    minimum = _decimal()
    maximum = _decimal()
    iqr_low = _decimal("IQR low")
    iqr_high = _decimal("IQR high")
    mean = _decimal()
    sd = _decimal("SD", min_value=0)

    NUMBERS = ("value", "median", "minimum", "maximum", "iqr_low", "iqr_high", "mean")

    def set_choices(self):
        self.fields["measure"].choices = _blank(self.vocab.measure_choices())
        # Choosing a measure shows its range and units next to it (htmx).
        self.fields["measure"].widget.attrs.update({
            "hx-get": reverse("curation:measure_hint"),
            "hx-target": f"#hint-{self.prefix}",
            "hx-trigger": "change",
        })

    @property
    def chosen_measure(self) -> OutcomeMeasure | None:
        return self.vocab.measures.get(self._current("measure") or "")

    @property
    def hint(self) -> str:
        return measure_hint(self.chosen_measure)

    def clean(self):
        cleaned = super().clean()
        measure = self.vocab.measures.get(cleaned.get("measure") or "")
        if measure is None:
            return cleaned
        # A value outside its measure's range is wrong, not incomplete: refuse it now.
        for name in self.NUMBERS:
            message = value_range_error(measure, cleaned.get(name))
            if message:
                self.add_error(name, message)
        if cleaned.get("value") is not None and cleaned.get("unit"):
            message = unit_error(measure, cleaned["unit"])
            if message:
                self.add_error("unit", message)
        return cleaned


class EventForm(SourcedRowForm):
    section = "events"
    subject = _text(help_text="arm: <study> / <arm>, or patient: <study> / <arm> / <label>")
    event_type = _choice(AdverseEventType.choices, "Event")
    term = _text(max_length=200)
    grading_system = _choice(GradingSystem.choices, "Grading")
    grade = _integer()
    onset_day = _integer("Onset (day)", min_value=0)
    duration_days = _integer("Duration (days)", min_value=0)
    n_affected = _integer("Affected", min_value=0)
    n_evaluable = _integer("Evaluable", min_value=0)

    def clean(self):
        cleaned = super().clean()
        system, grade = cleaned.get("grading_system"), cleaned.get("grade")
        if system and grade is not None:
            message = grade_error(system, grade)
            if message:
                self.add_error("grade", message)
        return cleaned


ROW_FORMS = {
    "constructs": ConstructForm,
    "studies": StudyForm,
    "arms": ArmForm,
    "products": ProductForm,
    "patients": PatientForm,
    "outcomes": OutcomeForm,
    "events": EventForm,
}
FORMSETS = {
    section: formset_factory(form, extra=0, can_delete=True)
    for section, form in ROW_FORMS.items()
}


# The workspace ----------------------------------------------------------------------------------


@dataclass
class Problem:
    """One message for the summary at the top of the workspace."""

    where: str  # "Outcome 3 (sledai-2k)"
    field: str  # "value", or "" for the row as a whole
    message: str
    anchor: str  # the id of the row on the page


class Workspace:
    """Every form of one extraction's page, bound to a POST or filled from the payload."""

    def __init__(self, extraction, data=None, *, vocab: Vocabularies | None = None,
                 read_only: bool = False):
        self.extraction = extraction
        self.data = data
        self.read_only = read_only
        self.vocab = vocab or Vocabularies.load()
        self.rows = rows_of.flatten(extraction.payload)
        self.general_errors: list[str] = []
        references = self._references()
        common = {"vocab": self.vocab, "references": references, "read_only": read_only}
        self.publication_form = PublicationForm(
            data, initial=None if data is not None else self.rows["publication"],
            prefix="publication", **common,
        )
        self.formsets = {
            section: FORMSETS[section](
                data,
                initial=None if data is not None else self.rows[section],
                prefix=section,
                form_kwargs=common,
            )
            for section in SECTIONS
        }
        self.version = _version(data) if data is not None else extraction.version
        self.payload: dict | None = None

    def _references(self) -> dict:
        """Values offered by the reference fields' lists (as saved, or as posted)."""
        if self.data is not None:
            constructs = [
                self.data.get(f"constructs-{i}-name", "").strip()
                for i in range(_total(self.data, "constructs"))
            ]
        else:
            constructs = [row.get("name") or "" for row in self.rows["constructs"]]
        studies = [row.get("key") for row in self.rows["studies"] if row.get("key")]
        arms = [row["ref_was"] for row in self.rows["arms"] if row.get("ref_was")]
        subjects = [f"arm: {ref}" for ref in arms] + [
            f"patient: {row['ref_was']}" for row in self.rows["patients"] if row.get("ref_was")
        ]
        return {
            "new_constructs": [name for name in constructs if name],
            "studies": studies,
            "arms": arms,
            "subjects": subjects,
        }

    @property
    def references(self) -> dict:
        return self._references()

    def sections(self):
        """(section, title, formset) in page order."""
        titles = {
            "constructs": "New products (constructs)",
            "studies": "Studies",
            "arms": "Arms",
            "products": "Products given in each arm",
            "patients": "Patients",
            "outcomes": "Outcomes",
            "events": "Adverse events",
        }
        return [(section, titles[section], self.formsets[section]) for section in SECTIONS]

    def is_valid(self) -> bool:
        """Forms valid and every row placeable: then ``self.payload`` is the document."""
        valid = self.publication_form.is_valid()
        for formset in self.formsets.values():
            valid = formset.is_valid() and valid
        if not valid:
            return False
        posted = {"publication": self.publication_form.row()}
        kept_forms: dict[str, list] = {}
        for section, formset in self.formsets.items():
            live = [
                form for form in formset.forms
                if form.cleaned_data and not form.cleaned_data.get("DELETE")
            ]
            kept_forms[section] = live
            posted[section] = [form.row() for form in live]
        document, errors = rows_of.assemble(posted)
        for error in errors:
            form = kept_forms[error.section][error.index]
            form.add_error(error.field if error.field in form.fields else None, error.message)
        if errors:
            return False
        self.payload = document
        return True

    def add_bundle_errors(self, errors) -> None:
        """Put problems reported by JSON path (submission) on the rows they concern."""
        for error in errors:
            section, index, field = rows_of.locate(self.rows, error.path)
            if section == "publication":
                form = self.publication_form
            elif section:
                form = self.formsets[section].forms[index]
            else:
                where = f"{error.path}: " if error.path else ""
                self.general_errors.append(f"{where}{error.message}")
                continue
            if not hasattr(form, "cleaned_data"):
                form.cleaned_data = {}  # add_error() expects it, even on an unbound form
            form.add_error(field if field in form.fields else None, error.message)

    def problems(self) -> list[Problem]:
        found = [Problem("", "", message, "") for message in self.general_errors]
        forms_by_section = [("publication", [self.publication_form])] + [
            (section, formset.forms) for section, formset in self.formsets.items()
        ]
        for section, forms_ in forms_by_section:
            for index, form in enumerate(forms_):
                if not form._errors:
                    continue
                row = getattr(form, "cleaned_data", None) or form.initial or {}
                where = row_title(section, index, row)
                for name, messages in form._errors.items():
                    field = form.fields.get(name)
                    label = "" if field is None else str(field.label or name.replace("_", " "))
                    for message in messages:
                        found.append(Problem(where, label, message, form.prefix))
        return found


def _version(data) -> int:
    try:
        return int(data.get("version", 0))
    except (TypeError, ValueError):
        return 0  # refused as stale: never matches a real version


def _total(data, prefix: str) -> int:
    try:
        return max(0, min(int(data.get(f"{prefix}-TOTAL_FORMS", 0)), 2000))
    except (TypeError, ValueError):
        return 0


class ReviewForm(forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput)
    comment = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}),
                              help_text="Required when returning the extraction.")


class VersionForm(forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput)
