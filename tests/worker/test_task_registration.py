"""Pin the registered task names: renaming a task silently orphans messages already in queues."""

from __future__ import annotations

from agihub_services.queue import ROUTES


def test_registered_task_names_are_pinned() -> None:
    from agihub_worker import tasks  # noqa: F401 - registers the tasks
    from agihub_worker.app import app

    ours = sorted(name for name in app.tasks if name.startswith("agihub."))
    assert ours == [
        "agihub.health.ping",
        "agihub.maintenance.audit",
        "agihub.maintenance.repair",
        "agihub.scoring.reveal",
        "agihub.scoring.score",
        "agihub.transfer.fetch",
        "agihub.transfer.publish",
    ]


def test_every_task_is_routed_to_a_declared_queue() -> None:
    from agihub_worker.app import app

    for name in (n for n in app.tasks if n.startswith("agihub.")):
        prefix = ".".join(name.split(".")[:2]) + ".*"
        assert prefix in ROUTES, f"{name} has no queue route"


def test_worker_configuration_is_safe_for_redelivery() -> None:
    from agihub_worker.app import app

    conf = app.conf
    assert conf.task_acks_late and conf.task_reject_on_worker_lost
    assert conf.worker_prefetch_multiplier == 1
    assert conf.accept_content == ["json"] and conf.task_serializer == "json"
    assert conf.broker_transport_options["visibility_timeout"] > conf.task_time_limit
