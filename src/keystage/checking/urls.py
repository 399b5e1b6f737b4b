"""Pages of the school check loop."""

from django.urls import path

from keystage.checking import views

urlpatterns = [
    path("la/<str:code>/checking", views.la_checking, name="la-checking"),
    path("la/<str:code>/checking/release", views.la_checking_release, name="la-checking-release"),
    path("la/<str:code>/checking/remind", views.la_checking_remind, name="la-checking-remind"),
    path(
        "la/<str:code>/checking/<str:laestab>", views.la_checking_school, name="la-checking-school"
    ),  # fmt: skip
    path("la/<str:code>/school-sees", views.la_school_sees, name="la-school-sees"),
    path("schools/<str:laestab>/check", views.school_check, name="school-check"),
    path("schools/<str:laestab>/check.pdf", views.school_check_pdf, name="school-check-pdf"),
    path(
        "schools/<str:laestab>/check/confirm",
        views.school_check_confirm,
        name="school-check-confirm",
    ),  # fmt: skip
    path(
        "schools/<str:laestab>/check/query", views.school_check_query, name="school-check-query"
    ),  # fmt: skip
]
