"""The inbound receiver is part of `make run` (scripts/dev.py) and of docker-compose, and the worker there
consumes the inbound queue."""
from pathlib import Path

import yaml

from contacts_project.celery import app

ROOT = Path(__file__).resolve().parents[2]


def test_compose_runs_the_receiver_and_the_worker_consumes_the_inbound_queue():
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    inbound = services["inbound"]
    assert inbound["command"][:3] == ["python", "manage.py", "run_inbound"]
    assert any(str(port).endswith(":2525") for port in inbound["ports"])
    check = inbound["healthcheck"]["test"]
    assert check[0] in ("CMD", "CMD-SHELL") and "2525" in " ".join(check)
    for name in ("postgres", "redis", "web"):
        assert inbound["depends_on"][name]["condition"] == "service_healthy"
    assert inbound["environment"]["BOUNCE_DOMAIN"]
    assert "inbound" in " ".join(services["worker"]["command"]).split("-Q ")[1].split()[0].split(",")


def test_make_run_starts_the_receiver_and_a_worker_for_its_queue():
    source = (ROOT / "scripts" / "dev.py").read_text()
    assert '"inbound": [sys.executable, "manage.py", "run_inbound"]' in source
    assert '"-Q", "send,bulk,default,inbound"' in source


def test_inbound_tasks_are_routed_to_their_own_queue():
    router = app.amqp.router
    for name in ("communications.inbound.process", "communications.inbound.poll_mailbox"):
        assert router.route({}, name)["queue"].name == "inbound"
    assert router.route({}, "communications.send_messages")["queue"].name == "send"


def test_deploy_check_warns_about_a_local_bounce_domain(settings):
    from communications.inbound.checks import bounce_domain_is_public

    settings.BOUNCE_DOMAIN = "bounces.contacts.localhost"
    assert [w.id for w in bounce_domain_is_public()] == ["communications.W001"]
    settings.BOUNCE_DOMAIN = "bounces.example.org"
    assert bounce_domain_is_public() == []
