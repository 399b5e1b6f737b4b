from django.apps import AppConfig


class OrgsConfig(AppConfig):
    name = "keystage.orgs"
    label = "orgs"
    verbose_name = "Organisations"
