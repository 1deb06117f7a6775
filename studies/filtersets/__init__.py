"""One FilterSet per model, shared by the HTML catalogue and the REST API.
Each module adds its classes to the exports below."""

from .publications import PublicationFilterSet  # noqa: E402
from .records import (  # noqa: E402
    AdverseEventFilterSet,
    ArmFilterSet,
    CarConstructFilterSet,
    OutcomeResultFilterSet,
    PatientFilterSet,
)
from .studies import StudyFilterSet  # noqa: E402
from .vocabularies import (  # noqa: E402
    AntigenFilterSet,
    DiseaseFilterSet,
    OutcomeMeasureFilterSet,
)

__all__ = [
    "AdverseEventFilterSet",
    "AntigenFilterSet",
    "ArmFilterSet",
    "CarConstructFilterSet",
    "DiseaseFilterSet",
    "OutcomeMeasureFilterSet",
    "OutcomeResultFilterSet",
    "PatientFilterSet",
    "PublicationFilterSet",
    "StudyFilterSet",
]
