from django.apps import AppConfig


class WorkerConfig(AppConfig):
    name = "keystage.worker"
    label = "worker"
    verbose_name = "Task worker"
