# Tessera staging. Every value is a variable (variables.tf, set in terraform.tfvars); the
# architecture is modules/stack.

module "tessera" {
  source = "../../modules/stack"

  environment    = "staging"
  root_domain    = var.root_domain
  hosted_zone_id = var.hosted_zone_id
  admin_url      = var.admin_url
  image_tag      = var.image_tag

  vpc_cidr           = var.vpc_cidr
  availability_zones = var.availability_zones
  single_nat_gateway = var.single_nat_gateway

  db_engine_version        = var.db_engine_version
  db_instance_class        = var.db_instance_class
  db_allocated_storage     = var.db_allocated_storage
  db_max_allocated_storage = var.db_max_allocated_storage
  db_backup_retention_days = var.db_backup_retention_days
  db_read_replica          = var.db_read_replica

  redis_engine_version          = var.redis_engine_version
  redis_node_type               = var.redis_node_type
  redis_snapshot_retention_days = var.redis_snapshot_retention_days

  log_retention_days = var.log_retention_days
  log_level          = var.log_level
  waf_rate_limit     = var.waf_rate_limit

  custom_domain_certificate_arns = var.custom_domain_certificate_arns

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

  extra_environment = var.extra_environment
  # Only the optional secrets that are set: an empty one would reach the app as "".
  extra_secrets = { for name, value in var.optional_secrets : name => value if value != "" }
}
