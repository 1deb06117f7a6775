"""Model rules decided in Python (studies.models.checks) agree with the database.

full_clean() no longer asks the database for each CHECK rule of a curated row; these
tests put random rows to both and compare the verdicts, rule by rule, and check that a
broken rule still reaches the user with its message."""

from datetime import date
from decimal import Decimal

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import connection, models
from django.db.models import CheckConstraint, Q
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from studies.models.base import Curated
from studies.models.checks import UNKNOWN, evaluate
from tests.factories import OutcomeResultFactory

pytestmark = pytest.mark.django_db

CHECKED = [
    model
    for model in apps.get_app_config("studies").get_models()
    if issubclass(model, Curated)
    and any(isinstance(c, CheckConstraint) for c in model._meta.constraints)
]


def field_values(field) -> st.SearchStrategy:
    """A few values either side of the usual limits, NULL included."""
    if field.choices:
        return st.sampled_from([None, "", *(value for value, _ in field.flatchoices)])
    if isinstance(field, models.ForeignKey):
        return st.sampled_from([None, 1])
    if isinstance(field, models.BooleanField):
        return st.sampled_from([None, True, False])
    if isinstance(field, models.DateField):
        return st.sampled_from([None, date(2020, 1, 1), date(2021, 6, 30)])
    if isinstance(field, models.DecimalField):
        return st.sampled_from([None, Decimal("-1"), Decimal("0"), Decimal("2.5"), Decimal("100")])
    if isinstance(field, (models.IntegerField, models.FloatField)):
        return st.sampled_from([None, -1, 0, 1, 3, 5, 200])
    return st.sampled_from(["", "Table 2"])


def rows(model) -> st.SearchStrategy:
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    # A primary key, so that Django's check can read the row's relations (never saved).
    return st.fixed_dictionaries({f.attname: field_values(f) for f in fields}).map(
        lambda values: model(pk=10**9, **values)
    )


def database_verdict(constraint: CheckConstraint, model, row) -> bool:
    """What Django's own check says: does the row pass the rule?"""
    against = row._get_field_expression_map(meta=model._meta)
    return Q(constraint.condition).check(against)


@pytest.mark.parametrize("model", CHECKED, ids=lambda model: model.__name__)
def test_every_rule_is_decided_in_python_as_the_database_decides_it(model):
    @settings(max_examples=60, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(rows(model))
    def agree(row):
        for constraint in model._meta.constraints:
            if not isinstance(constraint, CheckConstraint):
                continue
            outcome = evaluate(constraint.condition, row)
            if outcome is UNKNOWN:
                continue  # a function (e.g. lower()): Django asks the database
            assert (outcome is not False) == database_verdict(constraint, model, row), (
                constraint.name
            )

    agree()


def test_a_broken_rule_reaches_the_user_with_its_message_and_no_query():
    result = OutcomeResultFactory()
    result.n_events, result.n_evaluable = 6, 5

    with CaptureQueriesContext(connection) as queries, pytest.raises(ValidationError) as error:
        result.full_clean(validate_unique=False)

    messages = error.value.message_dict["__all__"]
    assert "Events cannot exceed the evaluable patients." in messages
    assert not [q for q in queries.captured_queries if "_check" in q["sql"]]
