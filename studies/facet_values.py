"""The facet values stored per study (models.StudyFacets), as "facet:value" tags,
for the catalogue's facet counts under filters (studies.facets).

:func:`refresh_facet_values` recomputes the rows of some studies (or all) from their
arms, products, constructs and countries, with a fixed number of queries. The
receivers below call it after every ORM save or delete that can change a study's
values: the study itself (phase, status, countries), its arms (disease), their
products, a used construct (cell source, targets, costimulatory domains) and a
vocabulary value's code or a disease's place under a broader one. Writers that bypass
signals call it themselves, as studies.synthetic does. Within
studies.study_refresh.deferred() the receivers' refreshes wait for the block's end.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from django.apps import apps as installed_apps
from django.db.models import QuerySet
from django.db.models.signals import m2m_changed, post_delete, post_save

from . import stored_values, study_refresh
from .disease_tree import disease_tree
from .models import (
    Antigen,
    Arm,
    ArmProduct,
    CarConstruct,
    CostimulatoryDomain,
    Country,
    Disease,
    Study,
    StudyFacets,
)

LISTS = ("disease", "target", "construct", "costim", "cell_source", "country")
SINGLE = ("phase", "status")


def tag(facet: str, value: str) -> str:
    """How a facet value is stored: "disease:sle"."""
    return f"{facet}:{value}"


def tags(values: dict) -> list[str]:
    """The tags of one study's values ({"phase": "1", "disease": {"sle"}, ...})."""
    found = [tag(name, values[name]) for name in SINGLE if values.get(name)]
    found += [tag(name, value) for name in LISTS for value in values.get(name, ())]
    return sorted(found)


def untag(stored: list[str]) -> dict:
    """The values of a study's tags by facet: phase and status as text ('' when
    absent), the others as sorted lists."""
    values: dict = {name: "" for name in SINGLE} | {name: [] for name in LISTS}
    for item in sorted(stored):
        name, value = item.split(":", 1)
        if name in SINGLE:
            values[name] = value
        else:
            values[name].append(value)
    return values


def _ancestors(diseases) -> dict[int, list[str]]:
    """Each disease id -> its code and its broader diseases' codes."""
    codes = dict(diseases.values_list("pk", "code"))
    tree = disease_tree(diseases)
    return {pk: [codes[node] for node in tree.lineage(pk)] for pk in codes}


def _restricted(queryset: QuerySet, path: str, ids) -> QuerySet:
    return queryset if ids is None else queryset.filter(**{f"{path}__in": ids})


def refresh_facet_values(
    study_ids: Iterable[int] | None = None, *, existing_only: bool = False, apps=installed_apps
) -> int:
    """Write the StudyFacets rows of these studies (None: every study); return how
    many. ``existing_only`` updates rows that exist and makes none: receivers of a
    deletion may run while the study itself is being deleted. ``apps`` lets a data
    migration pass its historical models."""
    # Models from ``apps`` (a migration's are historical), not the module's imports.
    facets_model = apps.get_model("studies", "StudyFacets")
    study_model = apps.get_model("studies", "Study")
    ids = None
    if study_ids is not None:
        ids = sorted({pk for pk in study_ids if pk is not None})
        if not ids:
            return 0
    studies = _restricted(study_model.objects.all(), "pk", ids)
    if existing_only:
        studies = studies.filter(pk__in=facets_model.objects.values("study"))
    values: dict[int, dict[str, set]] = {}
    for pk, phase, status in studies.values_list("pk", "phase", "status").order_by():
        values[pk] = {"phase": phase, "status": status, **{name: set() for name in LISTS}}
    if not values:
        return 0

    ancestors = _ancestors(apps.get_model("studies", "Disease").objects.all())
    arms = _restricted(apps.get_model("studies", "Arm").objects.all(), "study", ids)
    for study, disease in arms.values_list("study", "disease").distinct().order_by():
        values[study]["disease"].update(ancestors.get(disease, ()))

    products = _restricted(apps.get_model("studies", "ArmProduct").objects.all(), "arm__study", ids)
    used = defaultdict(set)  # construct -> its studies
    for study, construct in products.values_list("arm__study", "construct").distinct().order_by():
        used[construct].add(study)
    constructs = apps.get_model("studies", "CarConstruct").objects.filter(pk__in=used)
    for construct, target, costim, cell_source in constructs.values_list(
        "pk", "targets__code", "costimulatory_domains__code", "cell_source"
    ).order_by():
        for study in used[construct]:
            row = values[study]
            row["construct"].add(str(construct))
            for name, value in (
                ("target", target),
                ("costim", costim),
                ("cell_source", cell_source),
            ):
                if value:
                    row[name].add(value)

    countries = _restricted(study_model.countries.through.objects.all(), "study", ids)
    for study, code in countries.values_list("study", "country__code").order_by():
        values[study]["country"].add(code)

    rows = [facets_model(study_id=pk, tags=tags(row)) for pk, row in values.items()]
    facets_model.objects.bulk_create(
        rows,
        batch_size=2000,
        update_conflicts=True,
        unique_fields=["study"],
        update_fields=["tags"],
    )
    return len(rows)


# Receivers -------------------------------------------------------------------------------


def _studies_of_constructs(constructs) -> QuerySet:
    return ArmProduct.objects.filter(construct__in=constructs).values_list(
        "arm__study_id", flat=True
    )


def _refresh_existing(study_ids) -> None:
    # Receivers of a deletion may run while the study itself is being deleted.
    refresh_facet_values(study_ids, existing_only=True)


def _refresh(study_ids) -> None:
    study_refresh.refresh(_refresh_existing, study_ids)


def study_saved(sender, instance, created, raw=False, **kwargs) -> None:
    """A new study has no arms or countries yet: its row holds its phase and status."""
    if raw:
        return
    if created:
        own = {"phase": instance.phase, "status": instance.status}
        StudyFacets.objects.create(study=instance, tags=tags(own))
    elif stored_values.changed(instance, "phase", "status"):
        _refresh([instance.pk])  # its list holds the other facets' tags too


def arm_changed(sender, instance, raw=False, **kwargs) -> None:
    if raw:
        return
    # A save that moves the arm to another study changes the study it left too.
    _refresh({instance.study_id, stored_values.before(instance, "study_id")})


def product_changed(sender, instance, raw=False, **kwargs) -> None:
    if raw:
        return
    arms = {instance.arm_id, stored_values.before(instance, "arm_id")}
    _refresh(Arm.objects.filter(pk__in=arms - {None}).values_list("study_id", flat=True))


def construct_saved(sender, instance, created, raw=False, **kwargs) -> None:
    if not raw and not created and stored_values.changed(instance, "cell_source"):
        _refresh(_studies_of_constructs([instance.pk]))


def construct_relation_changed(sender, instance, action, reverse, pk_set, **kwargs) -> None:
    """A construct's targets or costimulatory domains changed (from either side)."""
    if action not in ("post_add", "post_remove", "post_clear"):
        return
    if not reverse:
        _refresh(_studies_of_constructs([instance.pk]))
    elif action == "post_clear":  # an antigen or domain left all its constructs
        _refresh(None)  # which ones is no longer known
    else:  # instance is the antigen or domain, pk_set its constructs
        _refresh(_studies_of_constructs(pk_set))


def countries_changed(sender, instance, action, reverse, pk_set, **kwargs) -> None:
    if action not in ("post_add", "post_remove", "post_clear"):
        return
    if not reverse:
        _refresh([instance.pk])
    elif action == "post_clear":
        _refresh(None)
    else:
        _refresh(pk_set)


def code_changed(sender, instance, created, raw=False, **kwargs) -> None:
    """A vocabulary value's code changed, or a disease moved under another broader
    one: rare edits of the admin, which may touch many studies."""
    fields = ("code", "parent_id") if hasattr(instance, "parent_id") else ("code",)
    if not raw and not created and stored_values.changed(instance, *fields):
        _refresh(None)


def connect() -> None:
    stored_values.watch(Study, "phase", "status")
    post_save.connect(study_saved, sender=Study, dispatch_uid="facets-study")
    stored_values.watch(Arm, "study_id")
    post_save.connect(arm_changed, sender=Arm, dispatch_uid="facets-arm-save")
    post_delete.connect(arm_changed, sender=Arm, dispatch_uid="facets-arm-delete")
    stored_values.watch(ArmProduct, "arm_id")
    post_save.connect(product_changed, sender=ArmProduct, dispatch_uid="facets-product-save")
    post_delete.connect(product_changed, sender=ArmProduct, dispatch_uid="facets-product-delete")
    stored_values.watch(CarConstruct, "cell_source")
    post_save.connect(construct_saved, sender=CarConstruct, dispatch_uid="facets-construct")
    for through in (CarConstruct.targets.through, CarConstruct.costimulatory_domains.through):
        m2m_changed.connect(
            construct_relation_changed,
            sender=through,
            dispatch_uid=f"facets-{through._meta.label_lower}",
        )
    m2m_changed.connect(
        countries_changed, sender=Study.countries.through, dispatch_uid="facets-countries"
    )
    for model in (Antigen, CostimulatoryDomain, Country, Disease):
        stored_values.watch(model, *(("code", "parent_id") if model is Disease else ("code",)))
        post_save.connect(
            code_changed, sender=model, dispatch_uid=f"facets-code-{model._meta.label_lower}"
        )
