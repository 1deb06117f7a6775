from django import forms

from .parsers import ImportFormat
from .services import ImportTooLarge, check_size, file_size, max_upload_bytes


class ImportForm(forms.Form):
    import_format = forms.ChoiceField(
        label="Format",
        choices=[("", "Detect from the file"), *ImportFormat.choices],
        required=False,
    )
    file = forms.FileField(
        help_text="RIS, BibTeX, PubMed XML or ClinicalTrials.gov API v2 JSON (one study or "
        "a page of studies).",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["file"].help_text += f" At most {file_size(max_upload_bytes())}."

    def clean_file(self):
        upload = self.cleaned_data["file"]
        try:
            check_size(upload.size)
        except ImportTooLarge as refused:
            raise forms.ValidationError(refused.message) from refused
        return upload
