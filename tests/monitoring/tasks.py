"""Tasks the monitoring tests send through the real broker to a real worker."""
import logging

from contacts_project.celery import app

logger = logging.getLogger("tests.monitoring.tasks")


@app.task(name="tests.monitoring.echo")
def echo(marker: str) -> str:
    logger.warning("echo %s", marker)
    return marker


@app.task(name="tests.monitoring.boom")
def boom() -> None:
    raise RuntimeError("boom on purpose")


@app.task(name="tests.monitoring.flaky", bind=True, max_retries=1, default_retry_delay=0)
def flaky(self) -> None:
    if self.request.retries == 0:
        raise self.retry(exc=RuntimeError("first attempt fails"), countdown=0)
