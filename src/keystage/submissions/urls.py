"""Pages for uploading school files and following their import, and for cleaning pupil
records (the grid, a pupil's page)."""

from django.urls import path

from keystage.submissions import views

urlpatterns = [
    path("uploads/", views.upload, name="upload"),
    path("uploads/<int:batch_id>/", views.batch, name="upload-batch"),
    path("uploads/<int:batch_id>/status", views.batch_status, name="upload-batch-status"),
    path("uploads/history", views.upload_history, name="upload-history"),
    path("la/<str:code>/pupils", views.pupils, name="la-pupils"),
    path("la/<str:code>/pupils/add", views.pupil_add, name="la-pupil-add"),
    path("la/<str:code>/pupils/<int:pupil_id>", views.pupil, name="la-pupil"),
    path(
        "la/<str:code>/pupils/<int:pupil_id>/explain", views.pupil_explain, name="la-pupil-explain"
    ),
    path("la/<str:code>/pupils/<int:pupil_id>/remove", views.pupil_remove, name="la-pupil-remove"),
    path(
        "la/<str:code>/pupils/<int:pupil_id>/restore", views.pupil_restore, name="la-pupil-restore"
    ),
    path(
        "la/<str:code>/pupils/<int:pupil_id>/resolve", views.pupil_resolve, name="la-pupil-resolve"
    ),
]
