"""Pages of the statutory return (LA side) and the national collection (collector side)."""

from django.urls import path

from keystage.returns import views

urlpatterns = [
    path("la/<str:code>/returns", views.la_returns, name="la-returns"),
    path("la/<str:code>/returns/build", views.build, name="la-return-build"),
    path("la/<str:code>/returns/upload", views.upload, name="la-return-upload"),
    path("la/<str:code>/returns/submit", views.submit_loaded, name="la-return-submit-loaded"),
    path(
        "la/<str:code>/returns/<int:serial>/submit",
        views.submit_generation,
        name="la-return-submit",
    ),
    path(
        "la/<str:code>/returns/submitted/<str:reference>",
        views.submitted,
        name="la-return-submitted",
    ),
    path(
        "la/<str:code>/returns/<int:serial>/<str:file>", views.download, name="la-return-download"
    ),
    path("national", views.national, name="national-dashboard"),
    path("national/las.<str:fmt>", views.national_export, name="national-dashboard-export"),
    path("national/la/<str:code>", views.collected_la, name="collected-la"),
    path("national/la/<str:code>/authorise", views.authorise_la, name="collected-la-authorise"),
    path("national/la/<str:code>/<str:laestab>", views.collected_return, name="collected-return"),
    path(
        "national/la/<str:code>/<str:laestab>/authorise",
        views.authorise_return,
        name="collected-return-authorise",
    ),
    path(
        "national/la/<str:code>/<str:laestab>/send-back",
        views.send_back_return,
        name="collected-return-send-back",
    ),
]
