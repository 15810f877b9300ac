"""terraform/ is consistent: every name declared, passed and used; checkov finds nothing.

No terraform binary exists here; see tests/ops/terraform_tree.py for how the tree is read.
"""

from __future__ import annotations

import json
import re

import pytest

from tests.ops import terraform_tree as tf
from tests.ops.terraform_tree import ROOT, TERRAFORM

EXPECTED_MODULES = {"kms", "network", "firewall", "database", "cache", "secrets", "edge", "app"}
ENVIRONMENTS = ("staging", "production")
# Every checkov skip in terraform/, with the resource it is on (the reasons are in the
# .tf files and terraform/README.md). A new skip must be added here on purpose.
ALLOWED_SKIPS = {
    ("CKV_AWS_260", "aws_vpc_security_group_ingress_rule.alb_http"),
    ("CKV2_AWS_5", "aws_security_group.alb"),
    ("CKV2_AWS_5", "aws_security_group.app"),
    ("CKV2_AWS_5", "aws_security_group.database"),
    ("CKV2_AWS_5", "aws_security_group.cache"),
    ("CKV2_AWS_57", "aws_secretsmanager_secret.app"),
    ("CKV2_AWS_57", "aws_secretsmanager_secret.proxy_auth"),
    ("CKV_AWS_133", "aws_db_instance.replica"),
    ("CKV_AWS_157", "aws_db_instance.replica"),
    ("CKV2_AWS_76", "aws_lb.main"),
    ("CKV_AWS_378", "aws_lb_target_group.web"),
    ("CKV_AWS_18", "aws_s3_bucket.access_logs"),
    ("CKV_AWS_144", "aws_s3_bucket.access_logs"),
    ("CKV_AWS_145", "aws_s3_bucket.access_logs"),
    ("CKV2_AWS_62", "aws_s3_bucket.access_logs"),
    ("CKV_AWS_144", "aws_s3_bucket.files"),
    ("CKV2_AWS_62", "aws_s3_bucket.files"),
}
ALL_MODULES = tf.module_names()  # names only: the tree is parsed when a test runs


def test_the_tree_has_every_module_and_both_environments():
    names = set(tf.modules())
    assert sorted(names) == ALL_MODULES  # the parametrized tests cover every module
    assert {f"modules/{name}" for name in EXPECTED_MODULES | {"stack"}} <= names
    assert {f"environments/{name}" for name in ENVIRONMENTS} <= names


@pytest.mark.parametrize("name", ALL_MODULES)
def test_every_module_pins_its_providers(name):
    module = tf.modules()[name]
    (terraform,) = module.terraform
    providers = {key for block in terraform["required_providers"] for key in block}
    assert "aws" in providers
    if name.startswith("environments/"):
        (block,) = terraform["required_providers"]
        assert block["aws"]["version"].startswith("~> 5.")
        assert "backend" in terraform  # remote state, never local


@pytest.mark.parametrize("name", ALL_MODULES)
def test_every_variable_and_output_is_described(name):
    module = tf.modules()[name]
    for kind, items in (("variable", module.variables), ("output", module.outputs)):
        for item, body in items.items():
            assert body.get("description", "").strip(), f"{name}: {kind} {item}"


@pytest.mark.parametrize("name", ALL_MODULES)
def test_every_name_a_module_uses_is_declared_in_it(name):
    module = tf.modules()[name]
    assert module.references(tf._VAR) <= set(module.variables), name
    assert module.references(tf._LOCAL) <= set(module.locals), name
    resources = {(kind, res) for kind, res in module.references(tf._RESOURCE) if kind != "aws_iam"}
    assert resources <= set(module.resources), name
    assert module.references(tf._DATA) <= set(module.data), name


@pytest.mark.parametrize("name", ALL_MODULES)
def test_every_declared_variable_is_used(name):
    module = tf.modules()[name]
    assert set(module.variables) <= module.references(tf._VAR), name


@pytest.mark.parametrize("name", ALL_MODULES)
def test_module_calls_pass_exactly_the_declared_variables(name):
    caller = tf.modules()[name]
    for call, arguments in caller.module_calls.items():
        called = caller.called_module(call)
        passed = set(arguments) - tf.MODULE_META_ARGUMENTS
        required = {var for var, body in called.variables.items() if "default" not in body}
        assert required <= passed, f"{name}: module {call} misses {required - passed}"
        assert passed <= set(called.variables), (
            f"{name}: module {call} gets {passed - set(called.variables)}"
        )


@pytest.mark.parametrize("name", ALL_MODULES)
def test_module_outputs_used_exist(name):
    caller = tf.modules()[name]
    for call, output in caller.references(tf._MODULE_OUTPUT):
        assert call in caller.module_calls, f"{name}: no module {call}"
        assert output in caller.called_module(call).outputs, (
            f"{name}: {call} has no output {output}"
        )


def test_environments_differ_only_in_values():
    staging, production = (tf.environments()[name] for name in ENVIRONMENTS)
    assert set(staging.variables) == set(production.variables)
    assert set(staging.outputs) == set(production.outputs)
    assert staging.module_calls.keys() == production.module_calls.keys() == {"tessera"}
    for name, environment in tf.environments().items():
        call = environment.module_calls["tessera"]
        assert call["source"] == "../../modules/stack"
        assert call["environment"] == name
        # Every input of the stack is a variable of the environment, never a literal
        # hidden in main.tf (except the environment's own name).
        assert set(call) - {"source", "environment"} <= set(tf.module("stack").variables)


def test_readme_documents_every_environment_variable_and_output():
    readme = (TERRAFORM / "README.md").read_text()
    environment = tf.environments()["production"]
    for name in [*environment.variables, *environment.outputs]:
        assert f"`{name}`" in readme, name


# The containers against the application ------------------------------------------------------


def test_containers_run_the_settings_module_of_their_environment():
    stack = tf.module("stack")
    assert stack.module_calls["app"]["settings_module"] == "config.settings.${var.environment}"
    (validation,) = stack.variables["environment"]["validation"]
    assert "staging" in validation["condition"] and "production" in validation["condition"]
    for name in ENVIRONMENTS:
        assert (ROOT / "config" / "settings" / f"{name}.py").is_file()
    app = tf.module("app")
    assert app.locals["base_environment"]["DJANGO_SETTINGS_MODULE"] == "${var.settings_module}"


def test_settings_the_production_settings_require_come_from_secrets_manager_or_ssm(
    production_required_settings,
):
    secrets = tf.module("secrets")
    in_secrets_manager = set(secrets.locals["generated_secrets"])
    in_ssm = set(secrets.locals["parameters"])
    assert {"SECRET_KEY", "DATABASE_URL", "REDIS_URL"} <= in_secrets_manager
    assert "ROOT_DOMAIN" in in_ssm
    assert production_required_settings <= in_secrets_manager | in_ssm
    # Both reach every container through the task definition's "secrets".
    app = tf.module("app")
    assert "secrets = local.secrets_list" in app.locals["containers"]
    assert "var.container_secrets" in app.locals["secrets_list"]
    assert tf.module("stack").module_calls["app"]["container_secrets"] == (
        "${module.secrets.container_secrets}"
    )
    plain = set(app.locals["base_environment"])
    assert not plain & (in_secrets_manager | in_ssm | production_required_settings)


def _setting_names_read_by_the_app() -> str:
    sources = [*(ROOT / "config" / "settings").glob("*.py"), ROOT / "gunicorn.conf.py"]
    return "\n".join(path.read_text() for path in sources)


def test_every_plain_variable_and_optional_secret_is_read_by_the_app():
    read = _setting_names_read_by_the_app()
    plain = set(tf.module("app").locals["base_environment"])
    optional = set(tf.environments()["production"].variables["optional_secrets"]["default"])
    for name in plain | optional | {"DJANGO_ADMIN_URL"}:
        if name == "DJANGO_SETTINGS_MODULE":
            continue  # read by Django itself
        assert re.search(rf"[\"']{name}[\"']", read), name


def test_process_commands_match_the_image_compose_and_the_app(settings, compose):
    commands = tf.module("app").locals["commands"]
    web = commands["web"]
    assert web == compose["services"]["web"]["command"] == _dockerfile_cmd()
    assert web[web.index("--config") + 1] == "gunicorn.conf.py"
    assert (ROOT / "gunicorn.conf.py").is_file()
    assert web[-1] == "config.wsgi:application" and (ROOT / "config" / "wsgi.py").is_file()

    worker = commands["worker"]
    assert worker[:4] == ["celery", "-A", "config", "worker"]
    assert "app = " in (ROOT / "config" / "celery.py").read_text()
    assert worker[worker.index("--queues") + 1] == '${join(",", var.worker_queues)}'
    queues = set(tf.module("app").variables["worker_queues"]["default"])
    assert queues == app_queues(settings)
    compose_worker = compose["services"]["worker"]["command"]
    assert set(compose_worker[compose_worker.index("-Q") + 1].split(",")) == queues

    assert commands["beat"][:4] == ["celery", "-A", "config", "beat"]
    assert compose["services"]["beat"]["command"][:4] == commands["beat"][:4]

    from django.core.management import get_commands

    release = commands["release"][-1]
    for command in ("migrate_schemas", "ensure_spare_schemas"):
        assert f"python manage.py {command}" in release
        assert command in get_commands()
        assert f"python manage.py {command}" in compose["services"]["migrate"]["command"][-1]


def app_queues(settings) -> set[str]:
    queues = getattr(settings, "CELERY_TASK_QUEUES", None)
    if queues:
        return set(queues)
    routes = settings.CELERY_TASK_ROUTES
    routes = routes if isinstance(routes, list | tuple) else [routes]
    names = {settings.CELERY_TASK_DEFAULT_QUEUE}
    for route in routes:
        if isinstance(route, dict):
            names |= {options["queue"] for options in route.values()}
    return names


def test_beat_is_exactly_one_task_even_during_a_deploy():
    app = tf.module("app")
    beat = app.resource("aws_ecs_service", "beat")
    assert beat["desired_count"] == 1
    assert beat["deployment_maximum_percent"] == 100
    assert beat["deployment_minimum_healthy_percent"] == 0
    scaled = [body["resource_id"] for body in app.resources_of("aws_appautoscaling_target")]
    assert all("beat" not in target and "web" in target for target in scaled)


def test_web_is_autoscaled_behind_the_load_balancer():
    app = tf.module("app")
    (target,) = app.resources_of("aws_appautoscaling_target")
    assert target["min_capacity"] == "${var.web_min_count}"
    assert target["max_capacity"] == "${var.web_max_count}"
    policies = app.resources_of("aws_appautoscaling_policy")
    metrics = {
        policy["target_tracking_scaling_policy_configuration"][0][
            "predefined_metric_specification"
        ][0]["predefined_metric_type"]
        for policy in policies
    }
    assert metrics == {"ECSServiceAverageCPUUtilization", "ALBRequestCountPerTarget"}
    web = app.resource("aws_ecs_service", "web")
    assert web["load_balancer"][0]["container_name"] == "web"
    assert web["deployment_circuit_breaker"][0] == {"enable": True, "rollback": True}
    for environment in tf.environments().values():
        assert environment.variables["web_min_count"]["default"] >= 2  # one per zone


def test_every_security_group_is_attached_to_what_it_guards():
    """What checkov's CKV2_AWS_5 cannot see across modules (hence its skips)."""
    stack = tf.module("stack")
    attaching = {"security_groups", "vpc_security_group_ids", "security_group_ids"}
    for output in tf.module("firewall").outputs:
        callers = [
            (call, argument)
            for call, arguments in stack.module_calls.items()
            for argument, value in arguments.items()
            if value == f"${{module.firewall.{output}}}"
        ]
        assert callers, output
        attached = False
        for call, argument in callers:
            module = stack.called_module(call)
            for body in module.resources.values():
                for key in attaching:
                    values = body.get(key) or []
                    nested = [block.get(key, []) for block in body.get("network_configuration", [])]
                    flat = json.dumps([values, nested])
                    attached |= f"var.{argument}" in flat
        assert attached, output


def test_load_balancer_checks_liveness_and_keeps_connections_shorter_than_gunicorn(gunicorn):
    edge = tf.module("edge")
    assert edge.variables["health_check_path"]["default"] == "/healthz"
    alb = edge.resource("aws_lb", "main")
    assert gunicorn.keepalive > alb["idle_timeout"]
    assert alb["drop_invalid_header_fields"] is True
    https = edge.resource("aws_lb_listener", "https")
    assert https["ssl_policy"].startswith("ELBSecurityPolicy-TLS13")
    http = edge.resource("aws_lb_listener", "http")
    assert http["default_action"][0]["redirect"][0]["protocol"] == "HTTPS"


def test_certificate_and_dns_cover_the_root_domain_and_every_subdomain():
    edge = tf.module("edge")
    certificate = edge.resource("aws_acm_certificate", "main")
    assert certificate["domain_name"] == "${var.root_domain}"
    assert certificate["subject_alternative_names"] == ["*.${var.root_domain}"]
    assert edge.resource("aws_route53_record", "root")["name"] == "${var.root_domain}"
    assert edge.resource("aws_route53_record", "wildcard")["name"] == "*.${var.root_domain}"


def test_data_stores_are_multi_az_encrypted_and_backed_up():
    rds = tf.module("database").resource("aws_db_instance", "main")
    assert rds["multi_az"] is True and rds["storage_encrypted"] is True
    assert rds["publicly_accessible"] is False and rds["deletion_protection"] is True
    assert rds["backup_retention_period"] == "${var.backup_retention_days}"
    assert "sslmode=require" in tf.module("database").outputs["database_url"]["value"]
    redis = tf.module("cache").resource("aws_elasticache_replication_group", "main")
    assert redis["automatic_failover_enabled"] is True and redis["multi_az_enabled"] is True
    assert redis["at_rest_encryption_enabled"] is True
    assert redis["transit_encryption_enabled"] is True
    assert tf.module("cache").outputs["redis_url"]["value"].startswith("rediss://")


def test_redis_url_shape_is_understood_by_the_cache_and_the_broker():
    from kombu import Connection

    from config.settings.base import cache_settings, celery_broker_url
    from shared_apps.core.cache import RedisCache

    url = "rediss://:token@primary.example.cache.amazonaws.com:6379/0?ssl_cert_reqs=required"
    options = cache_settings(url)["default"]
    client = RedisCache(url, {"OPTIONS": options["OPTIONS"]})._cache.get_client(write=True)
    pool = client.connection_pool
    assert pool.connection_class.__name__ == "SSLConnection"
    assert pool.connection_kwargs["password"] == "token"
    assert Connection(celery_broker_url(url)).ssl


def test_image_user_and_port_match_the_task_definitions(gunicorn):
    app = tf.module("app")
    dockerfile = (ROOT / "Dockerfile").read_text()
    uid = re.search(r"ARG APP_UID=(\d+)", dockerfile)
    assert uid and int(uid.group(1)) == app.variables["app_uid"]["default"]
    assert tf.module("stack").locals["app_port"] == 8000
    assert gunicorn.bind == "0.0.0.0:8000"
    assert "EXPOSE 8000" in dockerfile


# checkov -----------------------------------------------------------------------------------------


def test_checkov_finds_no_failed_check(checkov_report):
    summary = checkov_report["summary"]
    failed = [
        f"{check['check_id']} {check['resource']} ({check['file_path']})"
        for check in checkov_report["results"]["failed_checks"]
    ]
    assert failed == []
    assert summary["parsing_errors"] == 0
    assert summary["passed"] > 250  # the tree was really scanned


def test_every_checkov_skip_is_known_and_says_why(checkov_report):
    skipped = checkov_report["results"]["skipped_checks"]
    assert skipped
    for check in skipped:
        resource = ".".join(check["resource"].split(".")[-2:])
        assert (check["check_id"], resource) in ALLOWED_SKIPS, (check["check_id"], resource)
        assert len(check["check_result"].get("suppress_comment", "")) >= 30, check["check_id"]
    readme = (TERRAFORM / "README.md").read_text()
    for check_id, _ in ALLOWED_SKIPS:
        assert check_id in readme, check_id


def _dockerfile_cmd() -> list[str]:
    (line,) = [
        line for line in (ROOT / "Dockerfile").read_text().splitlines() if line.startswith("CMD ")
    ]
    return json.loads(line.removeprefix("CMD "))


def test_the_containers_reach_postgresql_through_rds_proxy():
    """ADR 0014: a transaction pooler between ECS and RDS, TLS required, bounded waits."""
    database = tf.module("database")
    proxy = database.resource("aws_db_proxy", "main")
    assert proxy["engine_family"] == "POSTGRESQL"
    assert proxy["require_tls"] is True
    assert proxy["vpc_security_group_ids"] == ["${var.security_group_id}"]
    pool = database.resource("aws_db_proxy_default_target_group", "main")["connection_pool_config"]
    assert pool[0]["connection_borrow_timeout"] == "${var.proxy_borrow_timeout_seconds}"
    target = database.resource("aws_db_proxy_target", "main")
    assert target["db_instance_identifier"] == "${aws_db_instance.main.identifier}"
    # DATABASE_URL (the containers' secret) names the proxy, not the instance.
    url = database.outputs["database_url"]["value"]
    assert "aws_db_proxy.main.endpoint" in url and "aws_db_instance" not in url
    assert tf.module("stack").module_calls["secrets"]["database_url"] == (
        "${module.database.database_url}"
    )
    # The proxy shares the database group and may reach the instance inside it.
    firewall = tf.module("firewall")
    for kind, name in (
        ("aws_vpc_security_group_egress_rule", "proxy_to_database"),
        ("aws_vpc_security_group_ingress_rule", "database_from_proxy"),
    ):
        body = firewall.resource(kind, name)
        assert body["security_group_id"] == body["referenced_security_group_id"]
        assert body["from_port"] == body["to_port"] == 5432


def test_an_optional_read_replica_reaches_the_containers_as_database_replica_url():
    database = tf.module("database")
    replica = database.resource("aws_db_instance", "replica")
    assert replica["count"] == "${var.read_replica ? 1 : 0}"
    assert replica["replicate_source_db"] == "${aws_db_instance.main.identifier}"
    assert replica["storage_encrypted"] is True and replica["publicly_accessible"] is False
    assert replica["vpc_security_group_ids"] == ["${var.security_group_id}"]
    assert database.variables["read_replica"]["default"] is False  # off unless asked for
    assert "sslmode=require" in database.outputs["replica_database_url"]["value"]
    stack = tf.module("stack")
    assert stack.module_calls["database"]["read_replica"] == "${var.db_read_replica}"
    assert stack.module_calls["secrets"]["replica_enabled"] == "${var.db_read_replica}"
    assert stack.module_calls["secrets"]["database_replica_url"] == (
        "${module.database.replica_database_url}"
    )
    secrets = tf.module("secrets")
    assert "DATABASE_REPLICA_URL" in secrets.locals["replica_secrets"]
    for environment in tf.environments().values():
        assert environment.variables["db_read_replica"]["default"] is False
    assert re.search(r"[\"']DATABASE_REPLICA_URL[\"']", _setting_names_read_by_the_app())
