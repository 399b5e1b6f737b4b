from django.apps import AppConfig


class CheckingConfig(AppConfig):
    name = "keystage.checking"
    label = "checking"
    verbose_name = "School check loop: released reports, confirmations and queries"
