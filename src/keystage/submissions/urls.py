"""Pages for uploading school files and following their import."""

urlpatterns: list = []
