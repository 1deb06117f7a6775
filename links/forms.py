"""Input of the links pages. Forms parse; links.services decides."""

from django import forms

from studies.bundles import find_publication
from studies.choices import IdentityEvidence
from studies.identifiers import normalize_doi
from studies.models import Patient, Publication


class PatientPairForm(forms.Form):
    patient = forms.ModelChoiceField(Patient.objects.all(), widget=forms.HiddenInput)
    other_patient = forms.ModelChoiceField(Patient.objects.all(), widget=forms.HiddenInput)
    evidence = forms.ChoiceField(choices=IdentityEvidence.choices, required=False)
    note = forms.CharField(required=False, max_length=2000)


class UndoIdentityForm(forms.Form):
    patient = forms.ModelChoiceField(Patient.objects.all(), widget=forms.HiddenInput)
    note = forms.CharField(required=False, max_length=2000)


class PublicationRefField(forms.CharField):
    """A publication named by DOI, PMID or carlit id ("#12")."""

    def clean(self, value):
        text = (super().clean(value) or "").strip()
        if not text:
            return None
        if text.startswith("#") and text[1:].isdigit():
            found = Publication.objects.filter(pk=int(text[1:])).first()
        elif text.isdigit():
            found = find_publication({"pmid": int(text)})
        else:
            found = find_publication({"doi": normalize_doi(text)})
        if found is None:
            raise forms.ValidationError(f"No publication with DOI, PMID or id '{text}'.")
        return found


class SupersessionForm(forms.Form):
    publication = PublicationRefField(
        label="Superseded publication", help_text="The abstract or preprint: DOI, PMID or #id."
    )
    newer = PublicationRefField(
        label="Superseded by", help_text="The fuller report: DOI, PMID or #id."
    )
    note = forms.CharField(required=False, max_length=2000, widget=forms.Textarea(
        attrs={"rows": 2}))


class UndoSupersessionForm(forms.Form):
    publication = forms.ModelChoiceField(Publication.objects.all(), widget=forms.HiddenInput)
    note = forms.CharField(required=False, max_length=2000)


class ReviewForm(forms.Form):
    action = forms.ChoiceField(choices=[("accept", "Accept"), ("reject", "Reject")])
    comment = forms.CharField(required=False, max_length=2000)


class ManualLinkForm(forms.Form):
    """Two patient reports named as the bundle format names them: the publication, the
    patient's label and, where the label alone is ambiguous, the arm."""

    publication = PublicationRefField(label="Publication", help_text="DOI, PMID or #id.")
    label = forms.CharField(label="Patient label", max_length=60)
    arm = forms.CharField(label="Arm (if needed)", max_length=200, required=False)
    other_publication = PublicationRefField(label="Other publication",
                                            help_text="DOI, PMID or #id.")
    other_label = forms.CharField(label="Patient label there", max_length=60)
    other_arm = forms.CharField(label="Arm (if needed)", max_length=200, required=False)
    evidence = forms.ChoiceField(choices=IdentityEvidence.choices)
    note = forms.CharField(required=False, max_length=2000)

    def clean(self):
        data = super().clean()
        for prefix in ("", "other_"):
            publication = data.get(f"{prefix}publication")
            label = data.get(f"{prefix}label")
            if publication is None or not label:
                continue
            found = Patient.objects.filter(source_publication=publication, label=label.strip())
            if data.get(f"{prefix}arm"):
                found = found.filter(arm__label=data[f"{prefix}arm"].strip())
            found = list(found[:2])
            if len(found) != 1:
                problem = "no patient" if not found else "more than one patient (give the arm)"
                self.add_error(f"{prefix}label",
                               f"{publication} reports {problem} labelled '{label}'.")
            else:
                data[f"{prefix}patient"] = found[0]
        return data
