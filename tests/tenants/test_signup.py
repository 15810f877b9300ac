"""Sign-up through the JSON API and the HTML form (Django test client)."""

from __future__ import annotations

import pytest

from shared_apps.accounts.models import User
from shared_apps.core.errors import ErrorCode, Message
from tenants.models import Tenant
from tests.factories import PASSWORD, UserFactory
from tests.support import error_of, host_client

SIGNUP = "/api/v1/signup/"


def payload(**overrides):
    data = {
        "name": "Delta Co",
        "subdomain": "delta",
        "email": "boss@delta.test",
        "password": PASSWORD,
        "plan": "free",
    }
    data.update(overrides)
    return data


def test_api_signup_returns_a_working_tenant(public_client):
    response = public_client.post(SIGNUP, payload(), format="json")
    assert response.status_code == 201
    body = response.json()
    assert body["tenant"] == {
        "subdomain": "delta",
        "url": "http://delta.localhost/",
        "status": "trialing",
        "plan": "free",
    }
    assert body["user"]["email"] == "boss@delta.test"

    tenant_client = host_client("delta.localhost")
    token = tenant_client.post(
        "/api/v1/auth/token/", {"email": "boss@delta.test", "password": PASSWORD}, format="json"
    ).json()["access"]
    tenant_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    me = tenant_client.get("/api/v1/me/").json()
    assert me["role"] == "owner" and me["tenant"]["name"] == "Delta Co"


def test_api_signup_defaults_to_the_free_plan(public_client):
    response = public_client.post(SIGNUP, payload(plan=""), format="json")
    assert response.json()["tenant"]["plan"] == "free"


def test_subdomain_taken_is_409(public_client, alpha):
    response = public_client.post(SIGNUP, payload(subdomain="alpha"), format="json")
    assert response.status_code == 409
    error = error_of(response)
    assert error["code"] == ErrorCode.SUBDOMAIN_TAKEN
    assert error["fields"] == {"subdomain": [Message.SUBDOMAIN_TAKEN]}


def test_existing_email_with_wrong_password_is_409(public_client):
    UserFactory(email="boss@delta.test")
    response = public_client.post(SIGNUP, payload(password="some-other-password"), format="json")
    assert response.status_code == 409
    assert error_of(response)["code"] == ErrorCode.EMAIL_REGISTERED
    assert not Tenant.objects.filter(subdomain="delta").exists()


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"subdomain": "-x-"}, "subdomain"),
        ({"subdomain": "admin"}, "subdomain"),
        ({"email": "nope"}, "email"),
        ({"password": "123"}, "password"),
        ({"plan": "gold"}, "plan"),
        ({"name": ""}, "name"),
    ],
)
def test_bad_input_is_400_with_fields_and_nothing_written(public_client, overrides, field):
    users = User.objects.count()
    response = public_client.post(SIGNUP, payload(**overrides), format="json")
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == ErrorCode.VALIDATION_ERROR
    assert field in error["fields"]
    assert User.objects.count() == users
    assert not Tenant.objects.filter(subdomain=overrides.get("subdomain", "delta")).exists()


def test_malformed_json_is_400(public_client):
    response = public_client.post(SIGNUP, data="{not json", content_type="application/json")
    assert response.status_code == 400
    assert error_of(response) == {
        "code": ErrorCode.MALFORMED_JSON,
        "message": Message.MALFORMED_JSON,
        "fields": {},
    }


def test_wrong_types_are_400_not_500(public_client):
    response = public_client.post(SIGNUP, [1, 2, 3], format="json")
    assert response.status_code == 400
    response = public_client.post(SIGNUP, payload(subdomain=["a"], name={"x": 1}), format="json")
    assert response.status_code == 400


def test_signup_is_not_served_on_tenant_hosts(alpha):
    response = host_client(alpha.host).post(SIGNUP, payload(), format="json")
    assert response.status_code == 404


# HTML form ----------------------------------------------------------------------------------


def test_form_renders_with_plans(public_client):
    response = public_client.get("/signup/")
    assert response.status_code == 200
    html = response.content.decode()
    for field in ("name", "subdomain", "email", "password", "plan"):
        assert f'name="{field}"' in html
    assert '<option value="starter">' in html


def test_form_signup_creates_the_tenant(db):
    from django.test import Client

    client = Client(HTTP_HOST="localhost")
    response = client.post("/signup/", payload(subdomain="epsilon", email="e@epsilon.test"))
    assert response.status_code == 201
    assert b"http://epsilon.localhost/" in response.content
    assert Tenant.objects.get(subdomain="epsilon").status == "trialing"


def test_form_shows_errors_and_keeps_input(db):
    from django.test import Client

    client = Client(HTTP_HOST="localhost")
    response = client.post("/signup/", payload(subdomain="www"))
    assert response.status_code == 400
    html = response.content.decode()
    assert "That subdomain is reserved." in html
    assert 'value="Delta Co"' in html
    assert not Tenant.objects.filter(subdomain="www").exists()
