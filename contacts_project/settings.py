"""Settings, all from the environment (django-environ), with defaults that work on one machine."""
from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import environ

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env("SECRET_KEY", default="dev-insecure-change-me-" + "x" * 40)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
DEFAULT_PHONE_REGION = env("DEFAULT_PHONE_REGION", default="US")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "pgtrigger",
    "pghistory",
    "pghistory.admin",
    "contacts_project",
    "accounts",
    "organization",
    "contacts",
    "dataquality",  # duplicates, merges, imports, exports, privacy; above contacts
    "communications",
    "planning",
    "collaboration",  # above planning (teams, notes, files, notifications, webhooks)
]

MIDDLEWARE = [
    "contacts_project.middleware.RequestIdMiddleware",
    "contacts_project.middleware.BodySizeLimitMiddleware",
    "contacts_project.db_router.ReadYourWritesMiddleware",  # passes through unless replicas are configured
    "django.middleware.security.SecurityMiddleware",
    "contacts_project.middleware.SecurityHeadersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "contacts_project.throttling.AdminLoginThrottleMiddleware",
    "contacts_project.idempotency.IdempotencyMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "pghistory.middleware.HistoryMiddleware",
]

ROOT_URLCONF = "contacts_project.urls"
WSGI_APPLICATION = "contacts_project.wsgi.application"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

# --- PostgreSQL (psycopg 3 with its connection pool) -------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/contacts")}
DATABASES["default"]["ENGINE"] = "django.db.backends.postgresql"
DB_POOL = env.bool("DB_POOL", default=True)
if DB_POOL:
    DATABASES["default"]["OPTIONS"] = {
        "pool": {"min_size": env.int("DB_POOL_MIN", default=1), "max_size": env.int("DB_POOL_MAX", default=10),
                 "timeout": 10},
    }
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"].setdefault("TEST", {})["NAME"] = env("TEST_DATABASE_NAME", default=None)

# --- Scaling out (docs/scaling.md): read replicas, PgBouncer ------------------------------------
# DATABASE_POOLER=pgbouncer: DATABASE_URL names a PgBouncer in transaction mode, so nothing may live in the session
# across transactions: no server-side cursors outside a transaction and no prepared statements (psycopg prepares
# a statement on the connection after it ran `prepare_threshold` times; the next transaction may get another one).
DATABASE_POOLER = env("DATABASE_POOLER", default="")
REPLICA_MAX_LAG_SECONDS = env.float("REPLICA_MAX_LAG_SECONDS", default=30.0)  # a replica further behind is skipped
REPLICA_CHECK_SECONDS = env.float("REPLICA_CHECK_SECONDS", default=1.0)  # per process: how stale a replica's state
REPLICA_RETRY_SECONDS = env.float("REPLICA_RETRY_SECONDS", default=5.0)  # a failed replica is asked again after
REPLICA_CONNECT_TIMEOUT = env.int("REPLICA_CONNECT_TIMEOUT", default=2)  # seconds
# a user who wrote reads from the primary until a replica replayed the write, at most this long
REPLICA_READ_YOUR_WRITES_SECONDS = env.int("REPLICA_READ_YOUR_WRITES_SECONDS", default=60)


def _database(url: str, *, pool_timeout: float, connect_timeout: int | None = None) -> dict:
    config = env.db_url_config(url)
    config["ENGINE"] = "django.db.backends.postgresql"
    options = config.setdefault("OPTIONS", {})
    if connect_timeout:
        options["connect_timeout"] = connect_timeout
    if DB_POOL:
        options["pool"] = {"min_size": env.int("DB_POOL_MIN", default=1),
                           "max_size": env.int("DB_POOL_MAX", default=10), "timeout": pool_timeout}
    else:
        config["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    if DATABASE_POOLER == "pgbouncer":
        options["prepare_threshold"] = None
        config["DISABLE_SERVER_SIDE_CURSORS"] = True
    return config


if DATABASE_POOLER == "pgbouncer":
    DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = None
    DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True

# DATABASE_REPLICA_URLS: streaming replicas (hot standbys) of DATABASE_URL, comma-separated; heavy reads that ask
# for it go there (contacts_project.db_router). In tests a replica mirrors the test database.
DATABASE_REPLICAS = []
for _number, _url in enumerate(env.list("DATABASE_REPLICA_URLS", default=[]), start=1):
    DATABASES[f"replica{_number}"] = _database(_url, pool_timeout=REPLICA_CONNECT_TIMEOUT,
                                               connect_timeout=REPLICA_CONNECT_TIMEOUT)
    DATABASES[f"replica{_number}"]["TEST"] = {"MIRROR": "default"}
    DATABASE_REPLICAS.append(f"replica{_number}")
DATABASE_ROUTERS = ["contacts_project.db_router.ReplicaRouter"] if DATABASE_REPLICAS else []

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: broker on the database REDIS_URL names, cache on the next one ----------------------
REDIS_URL = env("REDIS_URL", default="redis://127.0.0.1:6379/0")


def _redis_db_url(url: str, offset: int) -> str:
    parts = urlsplit(url)
    db = int(parts.path.strip("/") or 0)
    return urlunsplit(parts._replace(path=f"/{db + offset}"))


# pytest-xdist runs the suite in several processes (gw0, gw1, …), each with a test database of its own; each also
# gets its own pair of Redis databases (broker, cache) after REDIS_URL's, and so do the workers a test starts.
_XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
if _XDIST_WORKER.startswith("gw") and _XDIST_WORKER[2:].isdigit():
    REDIS_URL = _redis_db_url(REDIS_URL, 2 * int(_XDIST_WORKER[2:]))
CACHE_URL = _redis_db_url(REDIS_URL, 1)
CACHES = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": CACHE_URL,
        "KEY_PREFIX": env("CACHE_KEY_PREFIX", default="contacts"),
        "TIMEOUT": env.int("CACHE_TIMEOUT", default=3600),
        "OPTIONS": {
            "CLIENT_CLASS": "django_redis.client.DefaultClient",
            "SOCKET_CONNECT_TIMEOUT": 0.25,
            "SOCKET_TIMEOUT": 0.25,
            # a Redis outage slows requests down, it never fails them (contacts_project.cache adds a breaker)
            "IGNORE_EXCEPTIONS": True,
            "SERIALIZER": "django_redis.serializers.json.JSONSerializer",
        },
    }
}
# Redis Sentinel for the cache: CACHE_SENTINELS=host:26379,host2:26379 (and CACHE_SENTINEL_MASTER, the monitored
# name) replace CACHE_URL's host; django-redis asks the sentinels for the current master (and a replica for reads).
CACHE_SENTINELS = env.list("CACHE_SENTINELS", default=[])
if CACHE_SENTINELS:
    _cache_db = urlsplit(CACHE_URL).path.strip("/") or "0"
    CACHES["default"]["LOCATION"] = f"redis://{env('CACHE_SENTINEL_MASTER', default='mymaster')}/{_cache_db}"
    CACHES["default"]["OPTIONS"].update({
        "CLIENT_CLASS": "django_redis.client.SentinelClient",
        "CONNECTION_FACTORY": "django_redis.pool.SentinelConnectionFactory",
        "CONNECTION_POOL_CLASS": "redis.sentinel.SentinelConnectionPool",
        "SENTINELS": [(host, int(port)) for host, _, port in (item.rpartition(":") for item in CACHE_SENTINELS)],
        "SENTINEL_KWARGS": {"socket_timeout": 0.25},
    })
DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True
DJANGO_REDIS_LOGGER = "contacts_project.cache"

CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL)  # or amqp://user:pass@host:5672/vhost (RabbitMQ)
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True  # a killed worker leaves its task on the queue; tasks are idempotent
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
if CELERY_BROKER_URL.startswith(("amqp://", "amqps://", "pyamqp://")):
    # RabbitMQ: quorum queues (replicated, durable; countdowns use RabbitMQ's native delayed delivery) and
    # publisher confirms (a publish returns once the broker has the message). Heartbeats stay on REDIS_URL.
    CELERY_TASK_DEFAULT_QUEUE_TYPE = "quorum"
    CELERY_TASK_CREATE_MISSING_QUEUE_TYPE = "quorum"
    CELERY_BROKER_TRANSPORT_OPTIONS = {"confirm_publish": True}
# Periodic jobs; django-celery-beat's DatabaseScheduler copies these into its tables at start.
# Each app adds its own entries below (one line each).
CELERY_BEAT_SCHEDULE = {
    "purge-idempotency-keys": {"task": "contacts_project.purge_idempotency_keys", "schedule": 3600.0},
    "communications-dispatch-due": {"task": "communications.dispatch_due", "options": {"expires": 10},
                                    "schedule": env.float("COMMUNICATIONS_DISPATCH_INTERVAL", default=2.0)},
    "health-heartbeat": {"task": "contacts_project.heartbeat", "options": {"expires": 60},  # /health/ready/
                         "schedule": env.float("HEALTH_HEARTBEAT_INTERVAL", default=15.0)},
    "planning-campaign-tick": {"task": "planning.campaign_tick", "schedule": 2.0, "options": {"expires": 10}},
    "planning-refresh-segments": {"task": "planning.refresh_due_segments", "schedule": 60.0},
    "planning-task-reminders": {"task": "planning.send_task_reminders", "schedule": 60.0},
    "planning-recurring-followups": {"task": "planning.reschedule_recurring_followups", "schedule": 3600.0},
    "contacts-duplicates-refresh": {"task": "contacts.duplicates_refresh",  # data quality
                                    "schedule": env.float("DUPLICATES_REFRESH_INTERVAL", default=3600.0)},
    "contacts-retention-purge": {"task": "contacts.retention_purge", "schedule": 86400.0},
    "contacts-rollup-compact": {"task": "contacts.rollup_compact", "schedule": 300.0},  # report counts
}

# --- Auth -------------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True  # serve static files without collectstatic too (tests, first run)
MEDIA_ROOT = env("MEDIA_ROOT", default=str(BASE_DIR / "media"))

# --- Request bodies: 2 MiB for JSON, 16 MiB for the bulk endpoints (BodySizeLimitMiddleware) ---
MAX_JSON_BODY = 2 * 1024 * 1024
MAX_BULK_BODY = 16 * 1024 * 1024
MAX_UPLOAD_BODY = env.int("MAX_UPLOAD_BODY", default=512 * 1024 * 1024)
BULK_BODY_PATHS = ("/api/v1/contacts/bulk/", "/api/v1/contacts/actions/")
UPLOAD_BODY_PATHS = ("/api/v1/contacts/imports/",)
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_BULK_BODY
DATA_UPLOAD_MAX_NUMBER_FIELDS = 20000

# --- REST framework ---------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.auth.ApiTokenAuthentication",  # named tokens (ctk_…) and the login token
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["contacts_project.permissions.IsAuthenticatedWithModelPermissions"],
    "DEFAULT_RENDERER_CLASSES": [
        "drf_orjson_renderer.renderers.ORJSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_PARSER_CLASSES": [
        "contacts_project.parsers.StrictJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "contacts_project.pagination.KeysetCursorPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "contacts_project.errors.problem_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "contacts_project.schema.AutoSchema",  # unique operation ids
    # the user, anonymous and address scopes, counted in one Redis round trip (contacts_project.throttling)
    "DEFAULT_THROTTLE_CLASSES": ["contacts_project.throttling.RequestThrottles"],
    "DEFAULT_THROTTLE_RATES": {
        "user": env("THROTTLE_USER", default="6000/min"),
        "anon": env("THROTTLE_ANON", default="120/min"),
        "token": env("THROTTLE_TOKEN", default="30/min"),
        "ip": env("THROTTLE_IP", default="30000/min"),
    },
    "NON_FIELD_ERRORS_KEY": "non_field_errors",
    # `?format=` belongs to the endpoints (e.g. /contacts/export/?format=csv), not to content negotiation
    "URL_FORMAT_OVERRIDE": None,
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
if DEBUG:
    pass

SPECTACULAR_SETTINGS = {
    "TITLE": "Contacts API",
    "DESCRIPTION": (
        "Contact management, organization, communication and planning. Errors are RFC 9457 problem details "
        "(`application/problem+json`) with an `errors` list naming each field. Lists use cursor pagination."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "contacts_project.openapi.add_error_responses",
    ],
    "ENUM_NAME_OVERRIDES": {
        "ContactStatusEnum": "contacts.choices.ContactStatus",
        # choice sets used by several components get one name each (no StatusEd3Enum-style names)
        "CommunicationChannelEnum": "communications.choices.Channel",
        "CommunicationStatusEnum": "communications.choices.CommunicationStatus",
        "ConsentStatusEnum": "communications.choices.ConsentStatus",
        "MessageChannelEnum": [("email", "Email"), ("sms", "SMS")],
    },
}

# --- Security (production values come from the environment; see docs/operations.md) ---------
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=False)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=False)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env.bool("BEHIND_TLS_PROXY", default=False) else None

ADMIN_LOGIN_MAX_FAILURES = env.int("ADMIN_LOGIN_MAX_FAILURES", default=10)
ADMIN_LOGIN_WINDOW = env.int("ADMIN_LOGIN_WINDOW", default=900)  # seconds

# --- Mail -------------------------------------------------------------------------------------
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="smtp://127.0.0.1:25")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="contacts@example.com")

# --- Logging: structured JSON lines with the request id --------------------------------------
LOG_LEVEL = env("LOG_LEVEL", default="INFO")
LOG_FORMAT = env("LOG_FORMAT", default="json")  # json (production) or text (one readable line; make run in a terminal)
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "contacts_project.logging.JsonFormatter"},
                   "text": {"()": "contacts_project.logging.TextFormatter"}},
    "filters": {"request_id": {"()": "contacts_project.logging.RequestIdFilter"},
                "periodic_ticks": {"()": "contacts_project.logging.PeriodicTickFilter"}},
    "handlers": {"console": {"class": "logging.StreamHandler",
                             "formatter": "text" if LOG_FORMAT == "text" else "json",
                             "filters": ["request_id", "periodic_ticks"]}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "contacts_project.cache": {"level": "WARNING"},
    },
}

# --- Domain settings --------------------------------------------------------------------------
GROUP_MEMBERSHIP_MAX_IDS = 10000
BULK_CREATE_MAX = 1000
CONTACT_CACHE_TIMEOUT = env.int("CONTACT_CACHE_TIMEOUT", default=3600)

# --- Monitoring (docs/operations.md) ------------------------------------------------
MIDDLEWARE.insert(MIDDLEWARE.index("contacts_project.middleware.RequestIdMiddleware") + 1,
                  "contacts_project.observability.RequestMetricsMiddleware")
METRICS_PATH = "/metrics"
METRICS_TOKEN = env("METRICS_TOKEN", default="")  # set: /metrics wants `Authorization: Bearer <token>`
METRICS_ALLOWED_NETWORKS = env.list("METRICS_ALLOWED_NETWORKS", default=[
    "127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"])
ACCESS_LOG = env.bool("ACCESS_LOG", default=True)  # one JSON line per request (contacts_project.access)
BENCH_COUNT_QUERIES = env.bool("BENCH_COUNT_QUERIES", default=False)  # X-Query-Count header for bench/run.py
HEALTH_HEARTBEAT_MAX_AGE = env.int("HEALTH_HEARTBEAT_MAX_AGE", default=90)  # seconds; the heartbeat runs every 15
HEALTH_DISPATCH_LAG_MAX = env.int("HEALTH_DISPATCH_LAG_MAX", default=300)  # seconds a due message may wait
CELERY_WORKER_HIJACK_ROOT_LOGGER = False  # keep the JSON log format in workers and beat
SENTRY_DSN = env("SENTRY_DSN", default="")
if SENTRY_DSN:
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration

    sentry_sdk.init(dsn=SENTRY_DSN, integrations=[DjangoIntegration(), CeleryIntegration()],
                    environment=env("SENTRY_ENVIRONMENT", default="production"),
                    traces_sample_rate=env.float("SENTRY_TRACES_SAMPLE_RATE", default=0.0), send_default_pii=False)

# --- Communications (docs/communications.md): channels, sending, consent, tracking --------
EMAIL_BACKEND = env("EMAIL_BACKEND", default=EMAIL_BACKEND)  # noqa: F821 - from EMAIL_URL; or an anymail backend
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=30)  # seconds; well under the send lease below
ANYMAIL = {key: env(f"ANYMAIL_{key}") for key in (
    "WEBHOOK_SECRET", "MAILGUN_API_KEY", "MAILGUN_SENDER_DOMAIN", "MAILGUN_WEBHOOK_SIGNING_KEY",
    "POSTMARK_SERVER_TOKEN", "SENDGRID_API_KEY", "AMAZON_SES_CONFIGURATION_SET_NAME", "BREVO_API_KEY",
) if env(f"ANYMAIL_{key}", default="")}
SMS_URL = env("SMS_URL", default="console://")  # console://, file:///path, twilio://SID:TOKEN@host?from=+1...
COMMUNICATION_CHANNELS = {"email": {"BACKEND": "communications.channels.email.EmailBackend"}}  # sms: SMS_URL
PUBLIC_BASE_URL = env("PUBLIC_BASE_URL", default="http://127.0.0.1:8000")  # tracking and unsubscribe links
COMMUNICATIONS_MESSAGE_ID_DOMAIN = env("COMMUNICATIONS_MESSAGE_ID_DOMAIN", default="contacts.local")
COMMUNICATIONS_TRACKING = env.bool("COMMUNICATIONS_TRACKING", default=True)  # open pixel and click redirects
COMMUNICATIONS_DISPATCH_BATCH = env.int("COMMUNICATIONS_DISPATCH_BATCH", default=500)
COMMUNICATIONS_DISPATCH_MAX_BATCHES = env.int("COMMUNICATIONS_DISPATCH_MAX_BATCHES", default=40)
# messages waiting in the send queue at most (about 3 s of two worker processes): a backlog waits as
# `scheduled`, where a message that just came due can still go ahead of it (docs/communications.md)
COMMUNICATIONS_MAX_IN_FLIGHT = env.int("COMMUNICATIONS_MAX_IN_FLIGHT", default=1000)
COMMUNICATIONS_SEND_CHUNK = env.int("COMMUNICATIONS_SEND_CHUNK", default=25)  # ids per send task
COMMUNICATIONS_QUEUED_LEASE_SECONDS = env.int("COMMUNICATIONS_QUEUED_LEASE_SECONDS", default=120)
COMMUNICATIONS_SENDING_LEASE_SECONDS = env.int("COMMUNICATIONS_SENDING_LEASE_SECONDS", default=600)
COMMUNICATIONS_MAX_ATTEMPTS = env.int("COMMUNICATIONS_MAX_ATTEMPTS", default=5)
COMMUNICATIONS_RETRY_BACKOFF_SECONDS = env.int("COMMUNICATIONS_RETRY_BACKOFF_SECONDS", default=60)
COMMUNICATIONS_RETRY_BACKOFF_MAX_SECONDS = env.int("COMMUNICATIONS_RETRY_BACKOFF_MAX_SECONDS", default=3600)
COMMUNICATIONS_PAST_SCHEDULE_TOLERANCE = 3600  # seconds in the past that still mean "now"
COMMUNICATIONS_SMS_MAX_SEGMENTS = env.int("COMMUNICATIONS_SMS_MAX_SEGMENTS", default=6)
COMMUNICATIONS_EMAIL_MAX_BYTES = 1024 * 1024
COMMUNICATIONS_OPT_IN_REQUIRED_PURPOSES = env.list("COMMUNICATIONS_OPT_IN_REQUIRED_PURPOSES",
                                                   default=["marketing", "newsletter"])
COMMUNICATIONS_QUIET_HOURS_EXEMPT_PURPOSES = env.list("COMMUNICATIONS_QUIET_HOURS_EXEMPT_PURPOSES",
                                                      default=["transactional"])
COMMUNICATIONS_DEFAULT_QUIET_HOURS = env.list("COMMUNICATIONS_DEFAULT_QUIET_HOURS", default=[])  # e.g. 21:00,08:00
COMMUNICATIONS_DEFAULT_TIMEZONE = env("COMMUNICATIONS_DEFAULT_TIMEZONE", default="UTC")
COMMUNICATIONS_ENGAGEMENT_HALF_LIFE_DAYS = env.float("COMMUNICATIONS_ENGAGEMENT_HALF_LIFE_DAYS", default=30.0)
COMMUNICATIONS_ENGAGEMENT_WEIGHTS = {"opened": 1.0, "clicked": 3.0, "replied": 5.0}

# --- Inbound mail and SMS (docs/communications.md "Inbound mail and SMS") ------------------------------
# Outgoing mail's envelope sender is bounce+<token>@BOUNCE_DOMAIN, its Reply-To reply+<token>@..., and
# List-Unsubscribe offers mailto:unsubscribe+<token>@...: point BOUNCE_DOMAIN's MX (or a relay) at the receiver.
BOUNCE_DOMAIN = env("BOUNCE_DOMAIN", default="bounces.contacts.localhost")
INBOUND_CAPTURE_REPLIES = env.bool("INBOUND_CAPTURE_REPLIES", default=True)  # Reply-To: reply+<token>
INBOUND_DOMAINS = env.list("INBOUND_DOMAINS", default=[])  # more domains the receiver accepts mail for
INBOUND_SMTP_HOST = env("INBOUND_SMTP_HOST", default="127.0.0.1")
INBOUND_SMTP_PORT = env.int("INBOUND_SMTP_PORT", default=2525)
INBOUND_SMTP_PROTOCOL = env("INBOUND_SMTP_PROTOCOL", default="smtp")  # smtp or lmtp
INBOUND_MAX_MESSAGE_BYTES = env.int("INBOUND_MAX_MESSAGE_BYTES", default=10 * 1024 * 1024)  # larger: 552
INBOUND_RAW_RETENTION_DAYS = env.int("INBOUND_RAW_RETENTION_DAYS", default=30)
INBOUND_SOFT_BOUNCE_THRESHOLD = env.int("INBOUND_SOFT_BOUNCE_THRESHOLD", default=3)  # soft bounces ...
INBOUND_SOFT_BOUNCE_DAYS = env.int("INBOUND_SOFT_BOUNCE_DAYS", default=7)  # ... within these days suppress
INBOUND_IMAP_URL = env("INBOUND_IMAP_URL", default="")  # imaps://user:password@host/INBOX (imap:// plain)
INBOUND_IMAP_AFTER = env("INBOUND_IMAP_AFTER", default="seen")  # seen, delete or move:Folder
INBOUND_IMAP_BATCH = env.int("INBOUND_IMAP_BATCH", default=200)
INBOUND_SMS_AUTH_TOKEN = env("INBOUND_SMS_AUTH_TOKEN", default="")  # empty: the token in SMS_URL
INBOUND_SMS_STOP_REPLY = env("INBOUND_SMS_STOP_REPLY", default="You are unsubscribed and will receive no more "
                                                            "messages. Reply START to subscribe again.")
INBOUND_SMS_START_REPLY = env("INBOUND_SMS_START_REPLY", default="You are subscribed again. Reply STOP to "
                                                              "unsubscribe.")
CELERY_BEAT_SCHEDULE.update({
    "communications-inbound-purge-raw": {"task": "communications.inbound.purge_raw", "schedule": 3600.0},
    "communications-inbound-sweep": {"task": "communications.inbound.sweep", "schedule": 60.0},
    "communications-inbound-poll-mailbox": {"task": "communications.inbound.poll_mailbox", "options": {"expires": 50},
                                            "schedule": env.float("INBOUND_IMAP_INTERVAL", default=60.0)},
})

# --- Organization tools: bulk actions ------------------------------------------------
BULK_ACTION_CONFIRM_THRESHOLD = env.int("BULK_ACTION_CONFIRM_THRESHOLD", default=10000)
BULK_ACTION_BATCH_SIZE = env.int("BULK_ACTION_BATCH_SIZE", default=5000)
BULK_ACTION_MAX_IDS = 100000

# --- Data quality and privacy: duplicates, merges, imports, retention ------------------
DUPLICATE_NAME_SIMILARITY = env.float("DUPLICATE_NAME_SIMILARITY", default=0.6)  # pg_trgm similarity
DUPLICATE_MIN_SCORE = env.float("DUPLICATE_MIN_SCORE", default=0.6)  # pairs below are not candidates
MERGE_UNDO_DAYS = env.int("MERGE_UNDO_DAYS", default=30)
IMPORT_CHUNK_ROWS = env.int("IMPORT_CHUNK_ROWS", default=20000)  # rows per staged, committed chunk
IMPORT_WRITERS = env.int("IMPORT_WRITERS", default=2)  # chunks written at once, each on its own connection
IMPORT_PREVIEW_ROWS = env.int("IMPORT_PREVIEW_ROWS", default=1000)
ERASURE_HASH_KEY = env("ERASURE_HASH_KEY", default="")  # key of the erased-identity hashes (SECRET_KEY if empty)
COMMUNICATION_RETENTION_DAYS = env.int("COMMUNICATION_RETENTION_DAYS", default=730)
# Content older than `days` is cleared by contacts.retention_purge (contacts under legal hold are kept).
DATA_RETENTION_RULES = [
    {"model": "communications.Communication", "contact_field": "contact", "date_field": "created_at",
     "days": COMMUNICATION_RETENTION_DAYS, "clear": {"content": "", "subject": "", "metadata": {}}},
]

# --- Collaboration (docs/collaboration.md): roles, notes, files, notifications, webhooks -----
NOTE_MAX_LENGTH = 20000
ATTACHMENT_MAX_BYTES = env.int("ATTACHMENT_MAX_BYTES", default=25 * 1024 * 1024)
ATTACHMENT_ALLOWED_TYPES = env.list("ATTACHMENT_ALLOWED_TYPES", default=[
    "application/pdf", "image/png", "image/jpeg", "image/gif", "image/webp", "text/plain", "text/csv",
    "text/vcard", "text/calendar", "application/json", "application/zip",
    "application/msword", "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.ms-excel", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.ms-powerpoint", "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "application/vnd.oasis.opendocument.text", "application/vnd.oasis.opendocument.spreadsheet",
    "message/rfc822"])
ATTACHMENT_URL_MAX_AGE = env.int("ATTACHMENT_URL_MAX_AGE", default=300)  # seconds a signed download link works
UPLOAD_BODY_PATHS = (*UPLOAD_BODY_PATHS, "/api/v1/attachments/")
# S3-compatible storage for attachments: set ATTACHMENT_STORAGE_BACKEND=storages.backends.s3.S3Storage (with
# django-storages installed and AWS_* settings); the default keeps files under MEDIA_ROOT.
if env("ATTACHMENT_STORAGE_BACKEND", default=""):
    STORAGES["default"] = {"BACKEND": env("ATTACHMENT_STORAGE_BACKEND"),
                           "OPTIONS": env.json("ATTACHMENT_STORAGE_OPTIONS", default={})}
WEBHOOKS_ALLOW_PRIVATE = env.bool("WEBHOOKS_ALLOW_PRIVATE", default=False)  # loopback/private targets
WEBHOOK_TIMEOUT_SECONDS = env.float("WEBHOOK_TIMEOUT_SECONDS", default=10.0)
WEBHOOK_MAX_ATTEMPTS = env.int("WEBHOOK_MAX_ATTEMPTS", default=8)
WEBHOOK_RETRY_BASE_SECONDS = env.float("WEBHOOK_RETRY_BASE_SECONDS", default=30.0)  # 30 s, 1 min, 2 min …
WEBHOOK_RETRY_MAX_SECONDS = env.float("WEBHOOK_RETRY_MAX_SECONDS", default=6 * 3600.0)
WEBHOOK_DISABLE_AFTER_FAILURES = env.int("WEBHOOK_DISABLE_AFTER_FAILURES", default=5)  # failed deliveries in a row
WEBHOOK_SENDING_LEASE_SECONDS = 120
NOTIFICATION_DIGEST_HOURS = 24
CELERY_BEAT_SCHEDULE.update({
    "collaboration-sweep-webhooks": {"task": "collaboration.sweep_webhooks", "schedule": 60.0},
    "collaboration-send-digests": {"task": "collaboration.send_digests", "schedule": 3600.0},  # each user daily
})

# Audit event tables: references copied from the tracked rows are not indexed (every write inserts an event;
# history is read by pgh_obj and pgh_context, which stay indexed). Event tables that are queried by another
# column declare that index themselves (contacts.GroupMembershipEvent by contact).
import pghistory  # noqa: E402

PGHISTORY_FOREIGN_KEY_FIELD = pghistory.ForeignKey(db_index=False)
PGHISTORY_OBJ_FIELD = pghistory.ObjForeignKey(db_index=True)
PGHISTORY_CONTEXT_FIELD = pghistory.ContextForeignKey(db_index=True)
