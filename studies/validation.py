"""Checks of curated numbers against the vocabularies. Model clean() methods call
these, so forms, serializers, bundle imports and the admin all apply the same rules."""

from decimal import Decimal

from .choices import GRADE_RANGES, MeasureKind


def _fmt(number: Decimal) -> str:
    return f"{Decimal(number).normalize():f}"


def value_range_error(measure, value) -> str | None:
    """Message if value lies outside the measure's fixed range, else None."""
    if value is None:
        return None
    value = Decimal(str(value))
    low, high = measure.min_value, measure.max_value
    if low is not None and value < low:
        if high is not None:
            return f"{_fmt(value)} is outside {measure}'s range {measure.range_display}"
        return f"{_fmt(value)} is below {measure}'s minimum {_fmt(low)}"
    if high is not None and value > high:
        if low is not None:
            return f"{_fmt(value)} is outside {measure}'s range {measure.range_display}"
        return f"{_fmt(value)} is above {measure}'s maximum {_fmt(high)}"
    return None


def unit_error(measure, unit: str) -> str | None:
    if not measure.units:
        return None
    if unit not in measure.units:
        return f"'{unit}' is not a unit of {measure}; use one of: {', '.join(measure.units)}"
    return None


def measure_shape_errors(measure, *, is_patient: bool, fields: dict) -> dict[str, str]:
    """What a result must carry for its measure kind and subject.

    fields holds the result's value fields by name. Binary measures take yes/no for a
    patient and events over evaluable for an arm; scores and labs take numbers."""
    errors: dict[str, str] = {}
    numeric = ("value", "median", "mean", "minimum", "maximum", "iqr_low", "iqr_high")
    has_number = any(fields.get(name) is not None for name in numeric)
    if measure.kind in (MeasureKind.BINARY, MeasureKind.EVENT):
        if has_number:
            errors["value"] = f"{measure} is yes/no: record yes/no or events, not a number."
        if is_patient and fields.get("value_bool") is None:
            errors["value_bool"] = f"Record whether the patient had {measure} (yes/no)."
        if not is_patient and fields.get("n_events") is None:
            errors["n_events"] = f"Give the number of patients with {measure}."
    else:
        if fields.get("value_bool") is not None:
            errors["value_bool"] = f"{measure} is a number, not yes/no."
        if not has_number:
            errors["value"] = f"Give a value for {measure}."
    if not is_patient and fields.get("n_evaluable") is None:
        errors["n_evaluable"] = "Give the number of evaluable patients (the denominator)."
    return errors


def grade_error(system: str, grade) -> str | None:
    if grade is None:
        return None
    low, high = GRADE_RANGES[system]
    if not low <= grade <= high:
        return f"Grade {grade} is outside {system.upper()} grades {low}-{high}"
    return None
