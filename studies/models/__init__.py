from .arms import Arm, ArmProduct
from .catalogue import CatalogueCounts, FacetPairCounts, FilteredCounts, StudyFacets
from .constructs import CarConstruct, ConstructAlias
from .patients import Patient, Person
from .publications import Publication, PublicationAuthor, RegistryId, Study, StudyReport
from .results import AdverseEvent, OutcomeResult
from .vocabularies import (
    Antigen,
    CostimulatoryDomain,
    Country,
    Disease,
    LymphodepletionRegimen,
    OutcomeMeasure,
    Therapy,
)

__all__ = [
    "AdverseEvent",
    "Antigen",
    "Arm",
    "ArmProduct",
    "CatalogueCounts",
    "CarConstruct",
    "ConstructAlias",
    "CostimulatoryDomain",
    "FacetPairCounts",
    "Country",
    "Disease",
    "FilteredCounts",
    "LymphodepletionRegimen",
    "OutcomeMeasure",
    "OutcomeResult",
    "Patient",
    "Person",
    "Publication",
    "PublicationAuthor",
    "RegistryId",
    "Study",
    "StudyFacets",
    "StudyReport",
    "Therapy",
]
