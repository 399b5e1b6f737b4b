"""Pages of the collection dashboard, the Data Errors report and the audit log."""

urlpatterns: list = []
