"""One FilterSet per model, shared by the HTML catalogue and the REST API.
Each module adds its classes to the exports below."""
