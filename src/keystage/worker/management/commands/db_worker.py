"""django-tasks-db's `db_worker`, which this command replaces (keystage.worker comes before
django_tasks_db in INSTALLED_APPS), with what it lacks for a service that must not lose work:
before taking its first task the worker recovers what dead workers left
(`keystage.worker.recovery.recover`), and while it runs a thread of its own beats every
`KEYSTAGE_WORKER_BEAT_SECONDS` and recovers again about once a minute. Options are the same."""

from __future__ import annotations

import logging
import os
import threading

from django.conf import settings
from django.db import connections
from django.utils.autoreload import DJANGO_AUTORELOAD_ENV, run_with_reloader
from django_tasks_db.management.commands import db_worker as base

from keystage.worker import recovery

log = logging.getLogger("keystage.worker")

RECOVER_EVERY = 60.0  # seconds between two recoveries of a running worker


class Worker(base.Worker):
    def run(self) -> None:
        recovery.beat(self.worker_id)
        recovery.recover(self.worker_id, starting=True)
        stop = threading.Event()
        beating = threading.Thread(target=self._beat, args=(stop,), name="heartbeat", daemon=True)
        beating.start()
        try:
            super().run()
        finally:
            stop.set()
            beating.join(timeout=10)
            try:
                recovery.stopped(self.worker_id)
            except Exception:  # noqa: BLE001 - the database may be gone; the lease then tells
                log.exception("could not record that worker %s stopped", self.worker_id)

    def _beat(self, stop: threading.Event) -> None:
        every = float(settings.KEYSTAGE_WORKER_BEAT_SECONDS)
        waited = 0.0
        try:
            while not stop.wait(every):
                try:
                    recovery.beat(self.worker_id)
                    waited += every
                    if waited >= RECOVER_EVERY:
                        waited = 0.0
                        recovery.recover(self.worker_id, starting=False)
                except Exception:  # noqa: BLE001 - a missed beat is retried at the next
                    log.exception("worker %s: heartbeat or recovery failed", self.worker_id)
        finally:
            connections.close_all()  # this thread's own connections


class Command(base.Command):
    help = "Run the task worker (django-tasks-db's, with a heartbeat and recovery)"

    def handle(self, *, verbosity, queue_name, interval, batch, backend_name, startup_delay,
               reload, max_tasks, worker_id, exclude_queues, **options) -> None:  # fmt: skip
        self.configure_logging(verbosity)
        if reload and batch:
            reload = False
        queue_names = queue_name.split(",")
        excluded = exclude_queues.split(",") if exclude_queues else []
        if excluded and "*" not in queue_names:
            raise base.CommandError("--exclude-queues can only be used with --queue-name=*")
        worker = Worker(
            queue_names=queue_names, interval=interval, batch=batch, backend_name=backend_name,
            startup_delay=startup_delay, max_tasks=max_tasks, worker_id=worker_id,
            excluded_queue_names=excluded,
        )  # fmt: skip
        if reload:
            if os.environ.get(DJANGO_AUTORELOAD_ENV) == "true":
                worker.configure_signals()
            run_with_reloader(worker.run)
        else:
            worker.configure_signals()
            worker.run()
