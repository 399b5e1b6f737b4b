from django.apps import AppConfig


class ReturnsConfig(AppConfig):
    name = "keystage.returns"
    label = "returns"
    verbose_name = "Statutory returns and the national collection"
