from __future__ import annotations

import pytest
from django.db import IntegrityError

from shared_apps.accounts.models import User


def test_email_is_the_login_and_is_normalised(db):
    user = User.objects.create_user(email="Mixed@Example.TEST", password="x-long-password")
    assert user.email == "mixed@example.test"
    assert User.objects.get_by_natural_key("MIXED@example.test") == user
    assert not hasattr(user, "username")


def test_emails_are_unique_case_insensitively(db):
    User.objects.create_user(email="a@example.test", password="x-long-password")
    with pytest.raises(IntegrityError):
        User.objects.bulk_create([User(email="A@example.test")])


def test_email_is_required(db):
    with pytest.raises(ValueError):
        User.objects.create_user(email="", password="x")


def test_superuser_flags(db):
    user = User.objects.create_superuser(email="root@example.test", password="x-long-password")
    assert user.is_superuser and user.is_staff and str(user) == "root@example.test"
