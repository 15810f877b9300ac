variable "environment" {
  description = "staging or production: names every resource and picks config.settings.<environment>."
  type        = string

  validation {
    condition     = contains(["staging", "production"], var.environment)
    error_message = "environment must be staging or production (a config.settings module)."
  }
}

variable "root_domain" {
  description = "ROOT_DOMAIN: public host of the platform; tenants are served at *.<root_domain>."
  type        = string
}

variable "hosted_zone_id" {
  description = "Route 53 hosted zone holding root_domain (created outside this stack)."
  type        = string
}

variable "admin_url" {
  description = "DJANGO_ADMIN_URL: path of the platform admin (stored in SSM)."
  type        = string
}

variable "image_tag" {
  description = "Image tag to run, pushed to the stack's ECR repository (ecr_repository_url output)."
  type        = string
}

variable "vpc_cidr" {
  description = "CIDR block of the VPC."
  type        = string
}

variable "availability_zones" {
  description = "Availability zones to spread over (2 or more), in the provider's region."
  type        = list(string)
}

variable "single_nat_gateway" {
  description = "One shared NAT gateway instead of one per zone."
  type        = bool
}

variable "db_engine_version" {
  description = "PostgreSQL version of RDS."
  type        = string
}

variable "db_instance_class" {
  description = "RDS instance class."
  type        = string
}

variable "db_allocated_storage" {
  description = "Initial RDS storage in GiB."
  type        = number
}

variable "db_max_allocated_storage" {
  description = "RDS storage autoscaling ceiling in GiB."
  type        = number
}

variable "db_backup_retention_days" {
  description = "Days of RDS automated backups (point-in-time recovery)."
  type        = number
}

variable "db_read_replica" {
  description = "Create an RDS read replica for tenant reads (DATABASE_REPLICA_URL, ADR 0015)."
  type        = bool
  default     = false
}

variable "redis_engine_version" {
  description = "ElastiCache Redis version."
  type        = string
}

variable "redis_node_type" {
  description = "ElastiCache node type."
  type        = string
}

variable "redis_snapshot_retention_days" {
  description = "Days of Redis snapshots."
  type        = number
}

variable "log_retention_days" {
  description = "Days CloudWatch keeps container, WAF, flow and Redis logs."
  type        = number
}

variable "log_level" {
  description = "LOG_LEVEL of the containers."
  type        = string
}

variable "waf_rate_limit" {
  description = "Requests per 5 minutes from one address before the WAF blocks it."
  type        = number
}

variable "custom_domain_certificate_arns" {
  description = "ACM certificates of tenants' custom domains, served by the load balancer next to the wildcard."
  type        = list(string)
  default     = []
}

variable "web_cpu" {
  description = "CPU units of a web task."
  type        = number
}

variable "web_memory" {
  description = "Memory of a web task in MiB."
  type        = number
}

variable "web_min_count" {
  description = "Fewest web tasks."
  type        = number
}

variable "web_max_count" {
  description = "Most web tasks."
  type        = number
}

variable "web_gunicorn_workers" {
  description = "gunicorn workers per web task."
  type        = number
}

variable "web_gunicorn_threads" {
  description = "Threads per gunicorn worker."
  type        = number
}

variable "worker_cpu" {
  description = "CPU units of a worker task."
  type        = number
}

variable "worker_memory" {
  description = "Memory of a worker task in MiB."
  type        = number
}

variable "worker_count" {
  description = "Celery worker tasks."
  type        = number
}

variable "worker_concurrency" {
  description = "Celery processes per worker task."
  type        = number
}

variable "extra_environment" {
  description = "Additional plain settings for every container (e.g. TENANT_SPARE_SCHEMAS)."
  type        = map(string)
  default     = {}
}

variable "extra_secrets" {
  description = "Optional secrets by name (STRIPE_SECRET_KEY, STRIPE_WEBHOOK_SECRET, SENTRY_DSN, EMAIL_URL)."
  type        = map(string)
  sensitive   = true
  default     = {}
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
