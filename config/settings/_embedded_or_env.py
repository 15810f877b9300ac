"""Service wiring for development and tests: ``*_URL`` when set, embedded servers otherwise."""

from config import embedded
from config.settings.base import LOCAL_DIR, database_from_url, env, finish_database, with_replica

_database_url = env("DATABASE_URL", default="")
DATABASES = with_replica(
    {
        "default": finish_database(
            database_from_url(_database_url)
            if _database_url
            else embedded.postgres_settings(LOCAL_DIR)
        )
    }
)
REDIS_URL = env("REDIS_URL", default="") or embedded.redis_url(LOCAL_DIR)
