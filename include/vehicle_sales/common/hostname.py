"""The hostname a Celery worker records for its task instances (``[core] hostname_callable``).

Airflow's default, ``airflow.utils.net.getfqdn``, is right when each worker has a machine (or a
container) of its own. Two workers on one machine would record the same name, and the API server,
which fetches a running task's log from ``http://<hostname>:<log server port>``, could not tell
them apart. ``make airflow-celery`` therefore gives each local worker its own loopback address
(127.0.0.1, 127.0.0.2: both reach this machine) in ``VEHICLE_SALES_WORKER_HOSTNAME``; unset, the
default applies.
"""

from __future__ import annotations

import os

ENV = "VEHICLE_SALES_WORKER_HOSTNAME"


def worker_hostname() -> str:
    name = os.environ.get(ENV, "").strip()
    if name:
        return name
    from airflow.utils.net import getfqdn

    return getfqdn()
