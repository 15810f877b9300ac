"""terraform/: the bucket of tenant files, its policy, the task roles' access to it and the
settings the containers get for it, read against the application (ADR 0016)."""

from __future__ import annotations

import json
import re

from tests.ops import terraform_tree as tf

FILE_ACTIONS = {
    "s3:GetObject",
    "s3:PutObject",
    "s3:PutObjectTagging",
    "s3:DeleteObject",
    "s3:AbortMultipartUpload",
}


def _statements(document: dict) -> dict[str, dict]:
    return {statement["sid"]: statement for statement in document["statement"]}


def test_the_bucket_is_private_encrypted_versioned_and_tls_only():
    storage = tf.module("storage")
    bucket = storage.resource("aws_s3_bucket", "files")
    assert bucket["bucket"] == "${var.name}-files" and bucket["force_destroy"] is False

    block = storage.resource("aws_s3_bucket_public_access_block", "files")
    flags = ("block_public_acls", "block_public_policy", "ignore_public_acls")
    assert all(block[flag] is True for flag in (*flags, "restrict_public_buckets"))
    ownership = storage.resource("aws_s3_bucket_ownership_controls", "files")
    assert ownership["rule"][0]["object_ownership"] == "BucketOwnerEnforced"

    (rule,) = storage.resource("aws_s3_bucket_server_side_encryption_configuration", "files")[
        "rule"
    ]
    default = rule["apply_server_side_encryption_by_default"][0]
    assert default == {"sse_algorithm": "aws:kms", "kms_master_key_id": "${var.kms_key_arn}"}
    assert tf.module("stack").module_calls["storage"]["kms_key_arn"] == "${module.kms.key_arn}"

    versioning = storage.resource("aws_s3_bucket_versioning", "files")
    assert versioning["versioning_configuration"][0]["status"] == "Enabled"

    policy = _statements(storage.data[("aws_iam_policy_document", "files")])
    tls = policy["TlsOnly"]
    assert tls["effect"] == "Deny" and tls["actions"] == ["s3:*"]
    assert tls["condition"][0]["variable"] == "aws:SecureTransport"
    assert tls["condition"][0]["values"] == ["false"]
    # Nothing in the bucket policy allows anything: access comes from the task role only.
    assert {statement.get("effect") for statement in policy.values()} == {"Deny"}


def test_the_lifecycle_expires_exports_by_the_tag_the_app_puts_on_them(settings):
    from tenants.storage import AREA_TAG, file_area

    storage = tf.module("storage")
    assert storage.locals["area_tag"] == AREA_TAG
    rules = {
        rule["id"]: rule
        for rule in storage.resource("aws_s3_bucket_lifecycle_configuration", "files")["rule"]
    }
    exports = rules["expire-exports"]
    assert exports["filter"][0]["tag"][0] == {"key": "${local.area_tag}", "value": "exports"}
    assert exports["expiration"][0]["days"] == "${var.export_expiry_days}"
    # The backstop comes after the app's own daily clean-up (7 days, export_cleanup).
    assert storage.variables["export_expiry_days"]["default"] > 7
    assert file_area("tenants/t_acme/exports/x.csv") == "exports"

    final = rules["expire-final-exports"]
    assert final["filter"][0]["tag"][0]["value"] == "final"
    assert file_area("tenants/t_acme/final/orders_csv-20261201T000000.csv") == "final"

    housekeeping = rules["versions-and-uploads"]
    assert housekeeping["noncurrent_version_expiration"][0]["noncurrent_days"] == (
        "${var.noncurrent_version_days}"
    )
    assert housekeeping["abort_incomplete_multipart_upload"][0]["days_after_initiation"] == 1
    assert all(rule["status"] == "Enabled" for rule in rules.values())


def test_the_bucket_logs_access_into_the_access_log_bucket_which_accepts_them():
    storage = tf.module("storage")
    logging = storage.resource("aws_s3_bucket_logging", "files")
    assert logging["target_bucket"] == "${var.access_logs_bucket}"
    assert logging["target_prefix"].startswith("s3/")
    stack = tf.module("stack")
    assert stack.module_calls["storage"]["access_logs_bucket"] == (
        "${module.edge.access_logs_bucket}"
    )
    edge = _statements(tf.module("edge").data[("aws_iam_policy_document", "access_logs")])
    delivery = edge["S3WritesServerAccessLogs"]
    assert delivery["principals"][0]["identifiers"] == ["logging.s3.amazonaws.com"]
    assert delivery["resources"] == ["${aws_s3_bucket.access_logs.arn}/s3/*"]
    assert delivery["condition"][0]["variable"] == "aws:SourceAccount"


def test_web_and_worker_may_use_only_the_tenant_prefix_beat_and_release_nothing():
    app = tf.module("app")
    stack = tf.module("stack")
    call = stack.module_calls["app"]
    assert call["files_bucket_arn"] == "${module.storage.bucket_arn}"
    assert call["files_prefix"] == "${module.storage.tenant_prefix}"
    assert tf.module("storage").locals["tenant_prefix"] == "tenants/"

    from tenants.storage import ROOT

    assert f"{ROOT}/" == tf.module("storage").locals["tenant_prefix"]

    policy = _statements(app.data[("aws_iam_policy_document", "task")])
    assert set(policy) == {"TenantFiles", "ListTenantFiles", "TenantFilesKey"}
    files = policy["TenantFiles"]
    assert set(files["actions"]) == FILE_ACTIONS
    assert files["resources"] == ["${var.files_bucket_arn}/${var.files_prefix}*"]
    listing = policy["ListTenantFiles"]
    assert listing["actions"] == ["s3:ListBucket"]
    assert listing["resources"] == ["${var.files_bucket_arn}"]
    assert listing["condition"][0]["variable"] == "s3:prefix"
    assert listing["condition"][0]["values"] == ["${var.files_prefix}*"]
    key = policy["TenantFilesKey"]
    assert set(key["actions"]) == {"kms:GenerateDataKey", "kms:Decrypt"}
    assert key["condition"][0]["variable"] == "kms:ViaService"
    # No wildcard action, no version deletion, no bucket configuration.
    actions = [action for statement in policy.values() for action in statement["actions"]]
    assert not [action for action in actions if "*" in action or "Version" in action]

    assert app.resource("aws_iam_role_policy", "task")["role"] == "${aws_iam_role.task.id}"
    # The role of beat and release has no policy attached at all.
    attached = [body["role"] for body in app.resources_of("aws_iam_role_policy")]
    assert sorted(attached) == ["${aws_iam_role.execution.id}", "${aws_iam_role.task.id}"]
    assert not app.resources_of("aws_iam_role_policy_attachment")
    definition = app.resource("aws_ecs_task_definition", "app")
    assert definition["task_role_arn"] == (
        "${each.value.files ? aws_iam_role.task.arn : aws_iam_role.task_without_files.arn}"
    )
    processes = app.locals["processes"]
    with_files = {name for name, spec in processes.items() if spec["files"] is True}
    assert with_files == {"web", "worker"}


def test_the_containers_get_the_bucket_and_no_media_volume(settings):
    app = tf.module("app")
    environment = app.locals["base_environment"]
    assert environment["STORAGE_BUCKET"] == "${var.files_bucket_name}"
    assert environment["STORAGE_REGION"] == "${local.region}"
    assert environment["STORAGE_DOWNLOAD_URL_SECONDS"] == "${tostring(var.download_url_seconds)}"
    assert tf.module("stack").module_calls["app"]["files_bucket_name"] == (
        "${module.storage.bucket_name}"
    )
    # Within the app's own bound on presigned URL lifetimes (config/settings/base.py).
    assert 60 <= app.variables["download_url_seconds"]["default"] <= 900
    assert "MEDIA_ROOT" not in environment
    everything = json.dumps([list(app.resources), list(app.resources.values()), app.locals])
    assert not re.search(r"aws_efs|efs_volume|media", everything)
    assert not [name for (kind, name) in tf.module("firewall").resources if "efs" in name]
    for environment_module in tf.environments().values():
        assert "files_bucket_name" in environment_module.outputs
