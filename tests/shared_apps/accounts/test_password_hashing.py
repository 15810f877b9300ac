"""Password hashing as deployed (ADR 0029): Argon2id for new passwords, PBKDF2 hashes of
before still accepted and upgraded at the next login. The suite itself hashes with MD5
for speed (config/settings/test.py); these tests switch to the deployed list."""

from __future__ import annotations

import pytest
from django.contrib.auth.hashers import make_password

from config.settings.base import PASSWORD_HASHERS
from shared_apps.accounts.models import User
from tests.support import host_client

pytestmark = pytest.mark.django_db

PASSWORD = "Zq7!vX9#mK2$wL5^"


@pytest.fixture
def deployed_hashers(settings):
    settings.PASSWORD_HASHERS = PASSWORD_HASHERS


def test_a_new_password_is_stored_as_argon2id(deployed_hashers):
    user = User.objects.create_user(email="new@hash.test", password=PASSWORD)
    assert user.password.startswith("argon2$argon2id$")
    assert user.check_password(PASSWORD) and not user.check_password(PASSWORD + "x")


def test_a_pbkdf2_password_of_before_signs_in_and_is_upgraded(deployed_hashers, alpha):
    from django.contrib.auth.hashers import PBKDF2PasswordHasher

    user = alpha.user("member")
    old = make_password(PASSWORD, hasher=PBKDF2PasswordHasher())
    User.objects.filter(pk=user.pk).update(password=old)
    response = host_client(alpha.host).post(
        "/api/v1/auth/token/", {"email": user.email, "password": PASSWORD}, format="json"
    )
    assert response.status_code == 200, response.content
    stored = User.objects.get(pk=user.pk).password
    assert stored.startswith("argon2$argon2id$") and stored != old
    wrong = host_client(alpha.host).post(
        "/api/v1/auth/token/", {"email": user.email, "password": "not it"}, format="json"
    )
    assert wrong.status_code == 401


def test_the_benchmark_measures_sign_up_with_the_deployed_hashers():
    """The sign-up rows of ``make bench`` run in a child process on these settings."""
    from config.settings import base
    from tests.benchmarks.settings import bench

    assert bench.PASSWORD_HASHERS == base.PASSWORD_HASHERS
    assert bench.PASSWORD_HASHERS[0].endswith("Argon2PasswordHasher")
