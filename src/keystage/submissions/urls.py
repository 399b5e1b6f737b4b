"""Pages for uploading school files and following their import."""

from django.urls import path

from keystage.submissions import views

urlpatterns = [
    path("uploads/", views.upload, name="upload"),
    path("uploads/<int:batch_id>/", views.batch, name="upload-batch"),
]
