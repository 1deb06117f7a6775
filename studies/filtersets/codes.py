"""Vocabulary codes resolved to ids from a cache, for the API's study filters.

A filtered API list names diseases, targets, countries or costimulatory domains by
code. Checking the codes cost a query per filter on every request (the disease
filter a second one, for the narrower diseases), though these vocabularies change
rarely. Their codes and ids are kept in Django's cache instead (shared through Redis
when REDIS_CACHE_URL is set, per process otherwise): dropped when one of their rows
is saved or deleted, and reloaded after CACHE_SECONDS in any case, since bulk loads
send no signals and a per-process cache does not hear other processes' saves.
"""

from dataclasses import dataclass

import django_filters
from django import forms
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models.signals import post_delete, post_save

from ..disease_tree import disease_tree
from ..models import Antigen, CostimulatoryDomain, Country, Disease

CACHE_KEY = "studies:vocabulary-codes:1"
CACHE_SECONDS = 300
VOCABULARIES = {
    "disease": Disease,
    "antigen": Antigen,
    "country": Country,
    "costim": CostimulatoryDomain,
}


@dataclass(frozen=True)
class VocabularyCodes:
    ids: dict[str, dict[str, int]]  # vocabulary -> code -> id
    narrower: dict[int, tuple[int, ...]]  # disease id -> it and the diseases under it

    def narrower_diseases(self, ids) -> list[int]:
        """The diseases ids and those under them (lupus nephritis under SLE), as the
        catalogue's disease filter means them."""
        return sorted({narrower for pk in ids for narrower in self.narrower.get(pk, (pk,))})


def vocabulary_codes() -> VocabularyCodes:
    codes = cache.get(CACHE_KEY)
    if codes is None:
        codes = _load()
        cache.set(CACHE_KEY, codes, CACHE_SECONDS)
    return codes


def _load() -> VocabularyCodes:
    ids = {
        name: dict(model.objects.values_list("code", "pk")) for name, model in VOCABULARIES.items()
    }
    tree = disease_tree(Disease.objects.all())
    return VocabularyCodes(ids, {pk: tuple(sorted(pks)) for pk, pks in tree.below.items()})


def forget_codes(**kwargs) -> None:
    # Now, for the rest of this transaction, and again after it commits: a request
    # that reloads meanwhile still reads the rows as they were before the commit.
    cache.delete(CACHE_KEY)
    transaction.on_commit(lambda: cache.delete(CACHE_KEY))


def connect() -> None:
    for model in VOCABULARIES.values():
        label = model._meta.label_lower
        post_save.connect(forget_codes, sender=model, dispatch_uid=f"codes-save-{label}")
        post_delete.connect(forget_codes, sender=model, dispatch_uid=f"codes-delete-{label}")


class CodesField(forms.MultipleChoiceField):
    """Codes of one vocabulary, cleaned to the ids of their rows; an unknown code is
    refused with the message a model choice field gives."""

    def __init__(self, *, vocabulary: str, **kwargs):
        self.vocabulary = vocabulary
        super().__init__(**kwargs)

    def clean(self, value) -> list[int]:
        codes = self.to_python(value)
        self.validate(codes)
        known = vocabulary_codes().ids[self.vocabulary]
        for code in codes:
            if code not in known:
                raise ValidationError(
                    self.error_messages["invalid_choice"],
                    code="invalid_choice",
                    params={"value": code},
                )
        self.run_validators(codes)
        return [known[code] for code in codes]

    def validate(self, value):
        # Only "required": the choices are the cached codes, checked in clean().
        if self.required and not value:
            raise ValidationError(self.error_messages["required"], code="required")


class CodesFilter(django_filters.MultipleChoiceFilter):
    """Any of several codes of one vocabulary (``?target=cd19&target=bcma``); the
    filter's method receives their ids."""

    field_class = CodesField
