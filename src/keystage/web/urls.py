"""URL configuration: sign-in, two-factor, accounts and the home page, then every page of a
collection under the collection's id (keystage.web.links), and the paths from before there were
several collections, which redirect to the default collection's page."""

from django.urls import include, path, register_converter

from keystage.web import views
from keystage.web.links import CollectionConverter, collection_patterns

register_converter(CollectionConverter, "collection")

urlpatterns = [
    path("", views.home, name="home"),
    path("", include("keystage.accounts.urls")),
    *collection_patterns(
        [
            path("", include("keystage.submissions.urls")),
            path("", include("keystage.collection.urls")),
            path("", include("keystage.checking.urls")),
            path("", include("keystage.returns.urls")),
            path("", include("keystage.reports.urls")),
        ]
    ),
]

# Not found, no permission and failures in the service's layout (keystage.web.errors).
handler403 = "keystage.web.errors.permission_denied"
handler404 = "keystage.web.errors.page_not_found"
handler500 = "keystage.web.errors.server_error"
