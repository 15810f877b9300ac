# Everything the containers need that is secret or environment-specific, injected by ECS
# as environment variables (task definition "secrets"), never written in a task
# definition: Secrets Manager for secrets, SSM Parameter Store for configuration.
# All encrypted with the environment's KMS key.

resource "random_password" "secret_key" {
  length = 64
  # No "$": django-environ would read a value starting with it as a variable reference.
  override_special = "!#%&*()-_=+[]{}<>:?"
}

locals {
  generated_secrets = {
    SECRET_KEY   = random_password.secret_key.result
    DATABASE_URL = var.database_url
    REDIS_URL    = var.redis_url
  }
  # The read replica (ADR 0015), when there is one.
  replica_secrets = var.replica_enabled ? { DATABASE_REPLICA_URL = var.database_replica_url } : {}
  # Names only: which optional secrets (Stripe, Sentry, email) the operator has set.
  extra_secret_names = nonsensitive(toset(keys(var.extra_secrets)))
  secret_names = setunion(
    toset(keys(local.generated_secrets)),
    toset(var.replica_enabled ? ["DATABASE_REPLICA_URL"] : []),
    local.extra_secret_names,
  )
  parameters = {
    ROOT_DOMAIN      = var.root_domain
    DJANGO_ADMIN_URL = var.admin_url
  }
}

resource "aws_secretsmanager_secret" "app" {
  # checkov:skip=CKV2_AWS_57:No rotation Lambda: DATABASE_URL/REDIS_URL embed credentials owned by RDS/ElastiCache and SECRET_KEY rotation invalidates sessions; rotation is a documented runbook (terraform/README.md).
  for_each                = local.secret_names
  name                    = "${var.name}/${each.key}"
  description             = "${each.key} for the ${var.name} containers"
  kms_key_id              = var.kms_key_arn
  recovery_window_in_days = var.recovery_window_days
  tags                    = var.tags
}

resource "aws_secretsmanager_secret_version" "app" {
  for_each  = local.secret_names
  secret_id = aws_secretsmanager_secret.app[each.key].id
  secret_string = lookup(
    merge(local.generated_secrets, local.replica_secrets), each.key,
    lookup(var.extra_secrets, each.key, ""),
  )
}

resource "aws_ssm_parameter" "app" {
  for_each    = local.parameters
  name        = "/${var.name}/${each.key}"
  description = "${each.key} for the ${var.name} containers"
  type        = "SecureString"
  key_id      = var.kms_key_arn
  value       = each.value
  tags        = var.tags
}
