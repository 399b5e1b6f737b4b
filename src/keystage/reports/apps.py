from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "keystage.reports"
    label = "reports"
    verbose_name = "Reports and fact tables"
