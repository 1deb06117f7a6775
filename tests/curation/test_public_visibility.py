"""Draft, submitted and returned extractions never reach an anonymous visitor: this walks
every public URL (catalogue pages and exports from studies/urls.py, every API list and
detail, bundle exports) and looks for words that only unaccepted data contains."""

import re

import pytest
from django.urls import URLPattern, reverse

from curation import services
from studies import urls as catalogue_urls
from studies.api import urls as api_urls
from studies.models import CarConstruct, Disease, Publication, Study
from summaries.services import full_rebuild

from .bundles import new_publication_payload

SECRET = "UNREVIEWED"  # every value typed into unaccepted extractions carries this word


def unaccepted_payload(doi: str, tag: str) -> dict:
    payload = new_publication_payload(doi=doi, title=f"{SECRET} {tag} paper")
    payload["constructs"][0]["name"] = f"{SECRET}-{tag}-CAR"
    payload["studies"][0]["arms"][0]["products"][0]["construct"] = f"{SECRET}-{tag}-CAR"
    payload["studies"][0]["title"] = f"{SECRET} {tag} study"
    payload["studies"][0]["sponsor"] = f"{SECRET} {tag} sponsor"
    payload["patients"][0]["label"] = f"{SECRET} {tag} patient"
    return payload


@pytest.fixture
def mixed_data(curator, other_curator, reviewer):
    """One accepted paper (with a pending edit), and one paper in each unaccepted status."""
    accepted = services.extraction_import(curator=curator, payload=new_publication_payload())
    accepted = services.extraction_submit(extraction_id=accepted.pk, user=curator, version=1)
    services.extraction_accept(extraction_id=accepted.pk, user=reviewer,
                               version=accepted.version)
    publication = Publication.objects.get()

    # A pending edit of the public paper.
    edit = services.extraction_start_edit(curator=other_curator, publication=publication)
    payload = edit.payload
    payload["studies"][0]["title"] = f"{SECRET} edited study title"
    payload["publication"]["title"] = f"{SECRET} edited paper title"
    payload["patients"][0]["outcomes"][0]["value"] = 99
    services.extraction_save(extraction_id=edit.pk, user=other_curator, payload=payload,
                             version=edit.version)

    services.extraction_import(curator=curator, payload=unaccepted_payload(
        "10.5555/draft.1", "draft"))
    submitted = services.extraction_import(curator=curator, payload=unaccepted_payload(
        "10.5555/submitted.1", "submitted"))
    submitted = services.extraction_submit(extraction_id=submitted.pk, user=curator, version=1)
    returned = services.extraction_import(curator=curator, payload=unaccepted_payload(
        "10.5555/returned.1", "returned"))
    returned = services.extraction_submit(extraction_id=returned.pk, user=curator, version=1)
    services.extraction_reject(extraction_id=returned.pk, user=reviewer,
                               version=returned.version, comment="Check Table 2")
    return publication


def catalogue_urls_to_walk() -> list[str]:
    """Every pattern of the catalogue with every value its parameters can take."""
    values = {
        "studies/": {"pk": list(Study.objects.values_list("pk", flat=True))},
        "constructs/": {"pk": list(CarConstruct.objects.values_list("pk", flat=True))},
        "publications/": {"pk": list(Publication.objects.values_list("pk", flat=True))},
        "diseases/": {"code": list(Disease.objects.filter(arms__isnull=False)
                                   .values_list("code", flat=True).distinct()) + ["sle"]},
        "summary/": {"disease": ["sle"], "targets": ["cd19"]},
    }
    found = []
    for pattern in catalogue_urls.urlpatterns:
        assert isinstance(pattern, URLPattern), "walk included URL confs too"
        route = str(pattern.pattern)
        names = re.findall(r"<(?:\w+:)?(\w+)>", route)
        if not names:
            found.append(reverse(f"studies:{pattern.name}"))
            continue
        prefix = next((p for p in values if route.startswith(p)), None)
        if prefix is None or not set(names) <= set(values[prefix]):
            pytest.fail(f"The walk does not know values for {route}: add them here.")
        options = values[prefix]
        if len(names) == 1:
            found += [reverse(f"studies:{pattern.name}", kwargs={names[0]: value})
                      for value in options[names[0]]]
        else:
            found.append(reverse(f"studies:{pattern.name}", kwargs={
                name: options[name][0] for name in names}))
    return found


def api_urls_to_walk(client) -> list[str]:
    found = []
    for prefix, viewset, _basename in api_urls.router.registry:
        listing = f"/api/v1/{prefix}/"
        found += [listing, f"{listing}?format=csv"]
        response = client.get(listing, {"page_size": 500})
        assert response.status_code == 200, listing
        lookup = "id" if getattr(viewset, "lookup_field", "pk") == "pk" else viewset.lookup_field
        for row in response.json()["results"]:
            key = row.get(lookup)
            if key is not None:
                found.append(f"{listing}{key}/")
    found += [f"/api/v1/bundles/{pk}/" for pk in Publication.objects.values_list("pk", flat=True)]
    return found


def test_unaccepted_data_never_reaches_an_anonymous_visitor(client, mixed_data):
    full_rebuild()  # the summary pages read stored rows, refreshed after a commit
    pages = catalogue_urls_to_walk()
    apis = api_urls_to_walk(client)
    assert len(pages) >= 10 and len(apis) >= 20
    seen_public = False
    for url in pages + apis:
        response = client.get(url)
        assert response.status_code == 200, url
        body = b"".join(response.streaming_content) if response.streaming else response.content
        text = body.decode()
        assert SECRET not in text, f"{url} shows unaccepted data"
        seen_public = seen_public or "Single-case treatment with CURATION-CD19" in text
    assert seen_public, "the walk never saw the accepted study: is it walking the right pages?"


def test_the_pending_edit_leaves_the_public_values_in_place(client, mixed_data):
    bundle = client.get(f"/api/v1/bundles/{mixed_data.pk}/").json()
    assert bundle["studies"][0]["title"] == "Single-case treatment with CURATION-CD19"
    values = [o["value"] for o in bundle["patients"][0]["outcomes"]]
    assert 99 not in values and 16 in values


def test_anonymous_visitors_cannot_open_the_curation_area_or_api(client, mixed_data):
    for url in ("/curation/", "/curation/extractions/1/", "/curation/new/"):
        assert client.get(url).status_code == 302
    assert client.get("/api/v1/extractions/").status_code == 401
