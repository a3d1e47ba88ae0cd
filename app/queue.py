"""The task queue (huey): SQLite file by default, Redis when REDIS_URL is set.

Tasks are declared with `@task(...)` / `@periodic_task(...)` in app/tasks.py and bound to
each app's huey instance in `init_queue`, where they run inside an app context.
Out of the box the web process runs queued work itself in background threads
(RUN_WORKER_IN_PROCESS, on by default); production turns that off and runs
`flask --app app worker` instead.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable
from datetime import datetime

from flask import Flask, current_app
from huey import MemoryHuey, RedisHuey, SqliteHuey
from huey.consumer import Consumer

from app.logs import current_request_id, reset_request_id, set_request_id

log = logging.getLogger(__name__)

_TASKS: dict[str, tuple[Callable, dict]] = {}
_PERIODIC: dict[str, tuple[Callable, object, dict]] = {}
# The keyword argument a queued task carries its request id in (taken off before the task's function runs).
REQUEST_ID_KWARG = "_request_id"


def task(**options) -> Callable:
    """Declare a queued task; huey options such as retries, retry_delay, retry_backoff, context."""

    def register(func: Callable) -> Callable:
        _TASKS[func.__name__] = (func, options)
        return func

    return register


def periodic_task(schedule, **options) -> Callable:
    def register(func: Callable) -> Callable:
        _PERIODIC[func.__name__] = (func, schedule, options)
        return func

    return register


def init_queue(app: Flask) -> None:
    """Bind the declared tasks (create_app imports app/tasks.py first) to this app's huey instance."""
    settings = app.extensions["settings"]
    # Tasks record their outcome in the database; huey's own result store would be a write per task.
    if settings.QUEUE_IMMEDIATE:
        huey = MemoryHuey("giftstore", immediate=True, results=False)
    elif settings.REDIS_URL:
        # redis-py bounds every call (5 s to connect, 5 s to answer): a Redis that stops answering fails a call
        # instead of holding a request or a worker thread forever.
        huey = RedisHuey("giftstore", url=settings.REDIS_URL, results=False)
    else:
        filename = settings.QUEUE_FILE or app.instance_path + "/queue.db"
        huey = SqliteHuey("giftstore", filename=filename, results=False)

    def in_app_context(func: Callable) -> Callable:
        @functools.wraps(func)
        def run(*args, **kwargs):
            kwargs.pop(REQUEST_ID_KWARG, None)  # execute_with_request_id has put it where log lines find it
            with app.app_context():
                return func(*args, **kwargs)

        return run

    bound = {name: huey.task(name=name, **options)(in_app_context(func)) for name, (func, options) in _TASKS.items()}
    for name, (func, schedule, options) in _PERIODIC.items():
        bound[name] = huey.periodic_task(schedule, name=name, **options)(in_app_context(func))

    run_task = huey.execute

    def execute_with_request_id(task, timestamp=None):
        # The whole run of a task carries the id it was queued with: huey's own lines about it ("Executing ...",
        # "... executed in 0.2s", a traceback), its log lines and the tasks it queues. Undone after, so a worker
        # thread never shows an earlier task's id.
        token = set_request_id((task.kwargs or {}).get(REQUEST_ID_KWARG))
        try:
            return run_task(task, timestamp)
        finally:
            reset_request_id(token)

    huey.execute = execute_with_request_id  # the consumer (and immediate mode) run every task through it

    app.extensions["queue"] = huey
    app.extensions["queue_tasks"] = bound
    app.extensions["queue_worker_lock"] = threading.Lock()


def enqueue(name: str, *args, eta: datetime | None = None, **kwargs):
    """Queue task `name` now, or to run at `eta` (a UTC datetime; huey keeps it in its schedule, which Redis
    keeps across restarts)."""
    request_id = current_request_id()
    if request_id is not None:
        kwargs[REQUEST_ID_KWARG] = request_id
    bound = current_app.extensions["queue_tasks"][name]
    if eta is not None:
        return bound.schedule(args=args, kwargs=kwargs, eta=eta)
    return bound(*args, **kwargs)


def enqueue_or_leave_for_sweep(name: str, *args, eta: datetime | None = None) -> None:
    """Queue work whose row in the database a periodic sweep finds again when it is not done (a pending order,
    a queued email, a pending webhook delivery). Called once that row is committed: if the queue is down
    (Redis unreachable), the request that committed it still succeeds, and the sweep queues the work later."""
    try:
        enqueue(name, *args, eta=eta)
    except Exception:  # noqa: BLE001  (any failure of the queue's storage; the sweep is the fallback)
        log.warning("could not queue %s%s: the queue is unreachable; the sweep will queue it", name, args, exc_info=True)


class _InProcessConsumer(Consumer):
    def _set_signal_handlers(self):  # signals belong to the web server's main thread
        pass


def start_in_process_worker(app: Flask) -> None:
    """Start worker threads inside this process, once."""
    huey = app.extensions["queue"]
    if huey.immediate or app.extensions.get("queue_worker"):
        return
    with app.extensions["queue_worker_lock"]:
        if app.extensions.get("queue_worker"):
            return
        consumer = _InProcessConsumer(huey, workers=2, worker_type="thread", periodic=True, check_worker_health=False)
        consumer.start()
        app.extensions["queue_worker"] = consumer
        log.info("in-process queue worker started")


def run_worker(app: Flask, workers: int) -> None:
    """Run a standalone worker until interrupted (`flask worker`)."""
    consumer = app.extensions["queue"].create_consumer(workers=workers, worker_type="thread", periodic=True)
    consumer.run()


def queue_depth(app: Flask) -> tuple[int, int]:
    """(tasks waiting to run, tasks scheduled for later: retries and delays). Raises when the queue is unreachable."""
    huey = app.extensions["queue"]
    return huey.pending_count(), huey.scheduled_count()
