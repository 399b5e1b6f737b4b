from django.apps import AppConfig


class SubmissionsConfig(AppConfig):
    name = "keystage.submissions"
    label = "submissions"
    verbose_name = "Submissions and cleaning"
