"""Pages of the collection dashboard, the Data Errors report and the audit log."""

from django.urls import path

from keystage.collection import views

urlpatterns = [
    path("dashboard", views.choose_la, name="dashboard"),
    path("la/<str:code>/dashboard", views.dashboard, name="la-dashboard"),
    path("la/<str:code>/chase-list.<str:fmt>", views.chase_list, name="la-chase-list"),
    path("la/<str:code>/deadline", views.school_deadline, name="la-school-deadline"),
    path("la/<str:code>/expected-pupils", views.expected_cohorts, name="la-expected-cohorts"),
    path("la/<str:code>/errors", views.errors_report, name="la-errors"),
    path("la/<str:code>/audit", views.audit_log, name="la-audit"),
]
