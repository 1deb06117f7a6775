"""The comment form of the HTML pages. It parses; discussion.services validates
what the record allows and reports back by field (add_service_errors)."""

from django import forms
from django.core.exceptions import ValidationError

from .models import BODY_MAX_LENGTH, LOCATION_MAX_LENGTH, CommentKind


class CommentForm(forms.Form):
    # A single record's page names it in two hidden fields; the study page offers a
    # choice of its rows in ``target`` ("studies.arm:12").
    target_type = forms.CharField(required=False, widget=forms.HiddenInput)
    object_id = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)
    target = forms.CharField(required=False, label="About")
    parent = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)
    kind = forms.ChoiceField(choices=CommentKind.choices, initial=CommentKind.QUESTION)
    body = forms.CharField(
        label="Comment", max_length=BODY_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3, "maxlength": BODY_MAX_LENGTH}),
    )
    location = forms.CharField(
        label="Where", required=False, max_length=LOCATION_MAX_LENGTH,
        help_text="Optional: a field or place, e.g. patients[2].outcomes[0].value or Table 2.",
    )
    next = forms.CharField(required=False, widget=forms.HiddenInput)

    def clean(self):
        cleaned = super().clean()
        target = cleaned.get("target")
        if target:
            target_type, _, object_id = target.partition(":")
            if not object_id.isdigit():
                raise ValidationError({"target": "Choose the record the comment is about."})
            cleaned["target_type"], cleaned["object_id"] = target_type, int(object_id)
        return cleaned

    def service_arguments(self) -> dict:
        data = self.cleaned_data
        return {
            "target_type": data.get("target_type") or "",
            "object_id": data.get("object_id"),
            "parent_id": data.get("parent"),
            "kind": data["kind"],
            "body": data["body"],
            "location": data.get("location") or "",
        }

    def add_service_errors(self, invalid: ValidationError) -> None:
        for name, messages in invalid.message_dict.items():
            # The record's hidden fields are not shown: report on the form as a whole.
            shown = name if name in ("kind", "body", "location") else None
            for message in messages:
                self.add_error(shown, message)
