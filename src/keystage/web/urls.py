"""URL configuration: sign-in and two-factor pages, and the home page."""

from django.urls import include, path

from keystage.web import views

urlpatterns = [
    path("", views.home, name="home"),
    path("", include("keystage.accounts.urls")),
    path("", include("keystage.submissions.urls")),
    path("", include("keystage.collection.urls")),
    path("", include("keystage.checking.urls")),
    path("", include("keystage.returns.urls")),
    path("", include("keystage.reports.urls")),
]

# Not found, no permission and failures in the service's layout (keystage.web.errors).
handler403 = "keystage.web.errors.permission_denied"
handler404 = "keystage.web.errors.page_not_found"
handler500 = "keystage.web.errors.server_error"
