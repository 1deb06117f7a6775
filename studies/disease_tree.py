"""The disease vocabulary's tree (lupus nephritis under SLE), read in one query: each
disease's broader diseases and its narrower ones, at any depth. The catalogue's
disease filter, its facet counts, the stored facet values and the disease pages all
take a broader disease to include its narrower ones through this one walk."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field


@dataclass(frozen=True)
class DiseaseTree:
    parents: dict[int, int | None]  # disease id -> its broader disease's id
    below: dict[int, frozenset[int]] = field(init=False, repr=False)

    def __post_init__(self):
        below = defaultdict(set)
        for pk in self.parents:
            for node in self.lineage(pk):
                below[node].add(pk)
        object.__setattr__(self, "below", {pk: frozenset(ids) for pk, ids in below.items()})

    def lineage(self, pk: int) -> list[int]:
        """The disease and its broader diseases, nearest first."""
        result, node = [], pk
        while node is not None and node not in result:  # a cycle cannot loop forever
            result.append(node)
            node = self.parents.get(node)
        return result

    def narrower(self, pk: int) -> frozenset[int]:
        """The disease and every disease under it."""
        return self.below.get(pk, frozenset((pk,)))


def disease_tree(diseases) -> DiseaseTree:
    """The tree of these Disease rows (a queryset; a migration passes its own model's)."""
    return DiseaseTree(dict(diseases.values_list("pk", "parent_id").order_by()))
