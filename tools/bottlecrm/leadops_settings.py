"""BottleCRM's settings for a local, offline server on one SQLite file (Django settings module).

Imported by BottleCRM's own Python 3.12 venv (`DJANGO_SETTINGS_MODULE=leadops_settings`), never by LeadOps.
Everything it needs comes from the environment the launcher sets: BOTTLECRM_DB (the SQLite file) and
BOTTLECRM_LOG_DIR (where its log files go).
"""

import os

from crm.settings import *  # noqa: F403 (extends BottleCRM's own settings module)
from crm.settings import LOGGING, REST_FRAMEWORK

DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1"]

# SQLite instead of PostgreSQL. Without a busy timeout, IMMEDIATE transactions and WAL, 8 concurrent posts
# gave 17 HTTP 500 "database is locked"; with them, none.
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ["BOTTLECRM_DB"],
        "OPTIONS": {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        },
    }
}

# Celery runs tasks in the request, on an in-memory broker: no Redis, no worker process.
CELERY_BROKER_URL = "memory://"
CELERY_RESULT_BACKEND = "cache+memory://"
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True

# No outbound network: mail stays in memory, no error reports are sent anywhere.
MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
ADMINS = []
SENTRY_DSN = ""

# Its log files ("server.log", "security_audit.log") default to the working directory.
_log_dir = os.environ.get("BOTTLECRM_LOG_DIR", ".")
LOGGING["handlers"]["logfile"]["filename"] = os.path.join(_log_dir, "server.log")
LOGGING["handlers"]["security_audit"]["filename"] = os.path.join(_log_dir, "security_audit.log")
LOGGING["handlers"]["mail_admins"]["class"] = "logging.NullHandler"

# Its lead-intake throttle (120/min per key) would slow a pipeline backfill or a test run: a local server has
# no abusive callers to throttle.
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"].update(
    {"lead_intake_minute": "100000/min", "lead_intake_day": "10000000/day"}
)

# A fixed key for a throwaway local server: the settings refuse keys shorter than 32 bytes.
SECRET_KEY = os.environ.get("BOTTLECRM_SECRET_KEY", "leadops-local-bottlecrm-" + "k" * 40)
SIMPLE_JWT = {**SIMPLE_JWT, "SIGNING_KEY": SECRET_KEY}  # noqa: F405
