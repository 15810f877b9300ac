# One Tessera environment: network, key, security groups, PostgreSQL, Redis, secrets,
# load balancer with certificate, DNS and WAF, and the ECS services. The environments
# (terraform/environments/*) differ only in the values they pass.

locals {
  name     = "tessera-${var.environment}"
  app_port = 8000
  tags     = merge(var.tags, { Application = "tessera", Environment = var.environment })
}

module "kms" {
  source = "../kms"
  name   = local.name
  tags   = local.tags
}

module "network" {
  source             = "../network"
  name               = local.name
  cidr_block         = var.vpc_cidr
  availability_zones = var.availability_zones
  single_nat_gateway = var.single_nat_gateway
  kms_key_arn        = module.kms.key_arn
  log_retention_days = var.log_retention_days
  tags               = local.tags
}

module "firewall" {
  source   = "../firewall"
  name     = local.name
  vpc_id   = module.network.vpc_id
  app_port = local.app_port
  tags     = local.tags
}

module "database" {
  source                = "../database"
  name                  = local.name
  subnet_ids            = module.network.private_subnet_ids
  security_group_id     = module.firewall.database_security_group_id
  kms_key_arn           = module.kms.key_arn
  engine_version        = var.db_engine_version
  instance_class        = var.db_instance_class
  allocated_storage     = var.db_allocated_storage
  max_allocated_storage = var.db_max_allocated_storage
  backup_retention_days = var.db_backup_retention_days
  read_replica          = var.db_read_replica
  tags                  = local.tags
}

module "cache" {
  source                  = "../cache"
  name                    = local.name
  subnet_ids              = module.network.private_subnet_ids
  security_group_id       = module.firewall.cache_security_group_id
  kms_key_arn             = module.kms.key_arn
  engine_version          = var.redis_engine_version
  node_type               = var.redis_node_type
  snapshot_retention_days = var.redis_snapshot_retention_days
  log_retention_days      = var.log_retention_days
  tags                    = local.tags
}

module "secrets" {
  source       = "../secrets"
  name         = local.name
  kms_key_arn  = module.kms.key_arn
  database_url = module.database.database_url
  redis_url    = module.cache.redis_url
  # DATABASE_REPLICA_URL in every container (only web requests read from it).
  replica_enabled      = var.db_read_replica
  database_replica_url = module.database.replica_database_url
  root_domain          = var.root_domain
  admin_url            = var.admin_url
  extra_secrets        = var.extra_secrets
  tags                 = local.tags
}

module "edge" {
  source             = "../edge"
  name               = local.name
  root_domain        = var.root_domain
  hosted_zone_id     = var.hosted_zone_id
  vpc_id             = module.network.vpc_id
  public_subnet_ids  = module.network.public_subnet_ids
  security_group_id  = module.firewall.alb_security_group_id
  app_port           = local.app_port
  kms_key_arn        = module.kms.key_arn
  log_retention_days = var.log_retention_days
  waf_rate_limit     = var.waf_rate_limit
  tags               = local.tags

  custom_domain_certificate_arns = var.custom_domain_certificate_arns
}

module "storage" {
  source             = "../storage"
  name               = local.name
  kms_key_arn        = module.kms.key_arn
  access_logs_bucket = module.edge.access_logs_bucket
  tags               = local.tags
}

module "app" {
  source                = "../app"
  name                  = local.name
  environment           = var.environment
  settings_module       = "config.settings.${var.environment}"
  image_tag             = var.image_tag
  app_port              = local.app_port
  private_subnet_ids    = module.network.private_subnet_ids
  app_security_group_id = module.firewall.app_security_group_id
  files_bucket_name     = module.storage.bucket_name
  files_bucket_arn      = module.storage.bucket_arn
  files_prefix          = module.storage.tenant_prefix
  target_group_arn      = module.edge.target_group_arn
  alb_resource_label    = module.edge.alb_resource_label
  kms_key_arn           = module.kms.key_arn
  container_secrets     = module.secrets.container_secrets
  secret_arns           = module.secrets.secret_arns
  parameter_arns        = module.secrets.parameter_arns
  extra_environment     = var.extra_environment
  log_level             = var.log_level
  log_retention_days    = var.log_retention_days

  web_cpu              = var.web_cpu
  web_memory           = var.web_memory
  web_min_count        = var.web_min_count
  web_max_count        = var.web_max_count
  web_gunicorn_workers = var.web_gunicorn_workers
  web_gunicorn_threads = var.web_gunicorn_threads
  worker_cpu           = var.worker_cpu
  worker_memory        = var.worker_memory
  worker_count         = var.worker_count
  worker_concurrency   = var.worker_concurrency

  tags = local.tags

  # The target group must be attached to the load balancer (its listener) before the web
  # service registers tasks in it.
  depends_on = [module.edge]
}
