"""POST data of a workspace page as a browser would send it untouched."""

from curation.forms import Workspace


def _value(bound) -> list[str]:
    value = bound.value()
    if value is None:
        return [""]
    if isinstance(value, (list, tuple)):
        return [str(item) for item in value]
    if isinstance(value, bool):
        return ["on"] if value else []
    return [str(bound.field.prepare_value(value))] if not isinstance(value, str) else [value]


def workspace_data(extraction, **changes) -> dict:
    """{name: [values]} for every field of the workspace; ``changes`` override by name
    (e.g. ``**{"outcomes-0-value": "120"}``)."""
    workspace = Workspace(extraction)
    data: dict[str, list[str]] = {"version": [str(extraction.version)]}
    forms = [workspace.publication_form]
    for formset in workspace.formsets.values():
        for name, value in formset.management_form.initial.items():
            data[f"{formset.prefix}-{name}"] = [str(value)]
        forms += formset.forms
    for form in forms:
        for bound in form:
            if bound.name == "DELETE":
                continue
            data[bound.html_name] = _value(bound)
    for name, value in changes.items():
        data[name] = value if isinstance(value, list) else [str(value)]
    return data
