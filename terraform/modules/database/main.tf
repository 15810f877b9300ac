# Amazon RDS for PostgreSQL: Multi-AZ, encrypted with the environment's key, automated
# backups, TLS required. It provides DATABASE_URL (stored in Secrets Manager by
# modules/secrets; never in a task definition).

resource "random_password" "master" {
  length  = 40
  special = false # URL-safe: it is embedded in DATABASE_URL as is
}

resource "aws_db_subnet_group" "main" {
  name       = var.name
  subnet_ids = var.subnet_ids
  tags       = var.tags
}

resource "aws_db_parameter_group" "main" {
  name   = var.name
  family = "postgres${split(".", var.engine_version)[0]}"
  tags   = var.tags

  parameter {
    name  = "rds.force_ssl"
    value = "1"
  }
  # Slow statements and every DDL in the logs (exported to CloudWatch).
  parameter {
    name  = "log_min_duration_statement"
    value = "1000"
  }
  parameter {
    name  = "log_statement"
    value = "ddl"
  }
  parameter {
    name  = "log_lock_waits"
    value = "1"
  }
  # The connection budget (README, ADR 0014): every container connects through RDS Proxy,
  # which opens at most proxy_max_connections_percent of these; the rest is for operators.
  parameter {
    name         = "max_connections"
    value        = tostring(var.max_connections)
    apply_method = "pending-reboot"
  }
  # A tenant request holds no lock for long; a stuck one must not block migrations.
  parameter {
    name  = "idle_in_transaction_session_timeout"
    value = "60000"
  }
}

data "aws_iam_policy_document" "monitoring_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["monitoring.rds.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "monitoring" {
  name               = "${var.name}-rds-monitoring"
  assume_role_policy = data.aws_iam_policy_document.monitoring_assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy_attachment" "monitoring" {
  role       = aws_iam_role.monitoring.name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"
}

resource "aws_db_instance" "main" {
  identifier     = var.name
  engine         = "postgres"
  engine_version = var.engine_version
  instance_class = var.instance_class

  db_name  = var.database_name
  username = var.username
  password = random_password.master.result
  port     = 5432

  allocated_storage     = var.allocated_storage
  max_allocated_storage = var.max_allocated_storage
  storage_type          = "gp3"
  storage_encrypted     = true
  kms_key_id            = var.kms_key_arn

  multi_az               = true
  db_subnet_group_name   = aws_db_subnet_group.main.name
  vpc_security_group_ids = [var.security_group_id]
  publicly_accessible    = false
  parameter_group_name   = aws_db_parameter_group.main.name
  ca_cert_identifier     = "rds-ca-rsa2048-g1"

  backup_retention_period   = var.backup_retention_days
  backup_window             = "02:00-03:00"
  maintenance_window        = "sun:03:30-sun:04:30"
  copy_tags_to_snapshot     = true
  delete_automated_backups  = false
  deletion_protection       = true
  skip_final_snapshot       = false
  final_snapshot_identifier = "${var.name}-final"

  auto_minor_version_upgrade          = true
  iam_database_authentication_enabled = true
  enabled_cloudwatch_logs_exports     = ["postgresql", "upgrade"]
  performance_insights_enabled        = true
  performance_insights_kms_key_id     = var.kms_key_arn
  monitoring_interval                 = 60
  monitoring_role_arn                 = aws_iam_role.monitoring.arn

  tags = var.tags
}

# The transaction pooler between ECS and RDS (ADR 0014): RDS Proxy, in transaction
# multiplexing. The application routes every transaction itself (a transaction-local
# search_path), so its tenancy holds on whichever database connection a transaction gets;
# it never issues a session-level SET, so the proxy has no reason to pin a client to one.

resource "aws_secretsmanager_secret" "proxy_auth" {
  # checkov:skip=CKV2_AWS_57:The proxy's login is the RDS master credential this module generates; rotating it is the same runbook as DATABASE_URL (terraform/README.md).
  name                    = "${var.name}/rds-proxy-auth"
  description             = "Database login RDS Proxy uses for ${var.name}"
  kms_key_id              = var.kms_key_arn
  recovery_window_in_days = 7
  tags                    = var.tags
}

resource "aws_secretsmanager_secret_version" "proxy_auth" {
  secret_id = aws_secretsmanager_secret.proxy_auth.id
  secret_string = jsonencode({
    username = var.username
    password = random_password.master.result
  })
}

data "aws_iam_policy_document" "proxy_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["rds.amazonaws.com"]
    }
  }
}

data "aws_iam_policy_document" "proxy_secret" {
  statement {
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [aws_secretsmanager_secret.proxy_auth.arn]
  }
  statement {
    actions   = ["kms:Decrypt"]
    resources = [var.kms_key_arn]
  }
}

resource "aws_iam_role" "proxy" {
  name               = "${var.name}-rds-proxy"
  assume_role_policy = data.aws_iam_policy_document.proxy_assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy" "proxy_secret" {
  name   = "read-login"
  role   = aws_iam_role.proxy.id
  policy = data.aws_iam_policy_document.proxy_secret.json
}

resource "aws_db_proxy" "main" {
  name                   = var.name
  engine_family          = "POSTGRESQL"
  role_arn               = aws_iam_role.proxy.arn
  vpc_subnet_ids         = var.subnet_ids
  vpc_security_group_ids = [var.security_group_id]
  require_tls            = true
  debug_logging          = false
  # A kept client connection (CONN_MAX_AGE) idle this long is closed by the proxy; the app
  # reconnects on the next request (CONN_HEALTH_CHECKS).
  idle_client_timeout = 1800
  tags                = var.tags

  auth {
    auth_scheme = "SECRETS"
    iam_auth    = "DISABLED"
    secret_arn  = aws_secretsmanager_secret.proxy_auth.arn
  }
}

resource "aws_db_proxy_default_target_group" "main" {
  db_proxy_name = aws_db_proxy.main.name

  connection_pool_config {
    # Of the instance's max_connections; the rest stays for migrations (direct) and admin.
    max_connections_percent      = var.proxy_max_connections_percent
    max_idle_connections_percent = 50
    # A transaction waits this long for a free database connection, then the request
    # answers 503 (database_unavailable) instead of queueing without bound.
    connection_borrow_timeout = var.proxy_borrow_timeout_seconds
  }
}

resource "aws_db_proxy_target" "main" {
  db_proxy_name          = aws_db_proxy.main.name
  target_group_name      = aws_db_proxy_default_target_group.main.name
  db_instance_identifier = aws_db_instance.main.identifier
}

# An optional streaming read replica (ADR 0015): tenant reads of safe requests go there
# (DATABASE_REPLICA_URL), with read-your-writes and lag/outage fallback to the primary in
# the application. RDS Proxy has no reader endpoint for an RDS instance's replicas (only
# for Aurora), so the containers connect to the replica directly: at most web tasks x
# workers x threads connections (24 at the documented maximum), inside its max_connections.
resource "aws_db_instance" "replica" {
  # checkov:skip=CKV_AWS_133:Backups are the primary's (Multi-AZ, point-in-time recovery); a replica is rebuilt from the primary, never restored.
  # checkov:skip=CKV_AWS_157:One replica in one zone: when it fails, reads go to the Multi-AZ primary (the application's fallback), so a standby of the replica buys nothing.
  count               = var.read_replica ? 1 : 0
  identifier          = "${var.name}-replica"
  replicate_source_db = aws_db_instance.main.identifier
  instance_class      = coalesce(var.replica_instance_class, var.instance_class)

  storage_type          = "gp3"
  max_allocated_storage = var.max_allocated_storage
  storage_encrypted     = true
  kms_key_id            = var.kms_key_arn

  multi_az               = false
  vpc_security_group_ids = [var.security_group_id]
  publicly_accessible    = false
  parameter_group_name   = aws_db_parameter_group.main.name
  ca_cert_identifier     = "rds-ca-rsa2048-g1"

  backup_retention_period = 0
  maintenance_window      = "sun:04:30-sun:05:30"
  copy_tags_to_snapshot   = true
  deletion_protection     = true
  skip_final_snapshot     = true

  auto_minor_version_upgrade          = true
  iam_database_authentication_enabled = true
  enabled_cloudwatch_logs_exports     = ["postgresql", "upgrade"]
  performance_insights_enabled        = true
  performance_insights_kms_key_id     = var.kms_key_arn
  monitoring_interval                 = 60
  monitoring_role_arn                 = aws_iam_role.monitoring.arn

  tags = var.tags
}
