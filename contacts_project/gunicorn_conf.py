"""gunicorn settings for the web process (`gunicorn -c python:contacts_project.gunicorn_conf ...`).

prometheus_client's multiprocess mode keeps per-process files in PROMETHEUS_MULTIPROC_DIR; when a worker
exits its live gauges must be dropped, and the directory must be emptied before the server starts
(the caller, e.g. scripts/dev.py, empties it) so counters of an earlier run do not leak in.
"""


def child_exit(server, worker):
    import os

    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
