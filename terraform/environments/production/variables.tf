variable "aws_region" {
  description = "AWS region of the environment."
  type        = string
  default     = "eu-west-1"
}

variable "root_domain" {
  description = "ROOT_DOMAIN of production; tenants are served at <subdomain>.<root_domain>."
  type        = string
}

variable "hosted_zone_id" {
  description = "Route 53 hosted zone that holds root_domain."
  type        = string
}

variable "admin_url" {
  description = "DJANGO_ADMIN_URL: path of the platform admin (pick a hard-to-guess one)."
  type        = string
  default     = "admin/"
}

variable "image_tag" {
  description = "Release to run: an image tag pushed to the ecr_repository_url output (e.g. the git SHA)."
  type        = string
}

variable "vpc_cidr" {
  description = "CIDR block of the VPC."
  type        = string
  default     = "10.10.0.0/16"
}

variable "availability_zones" {
  description = "Availability zones of aws_region to spread over (2 or more)."
  type        = list(string)
  default     = ["eu-west-1a", "eu-west-1b"]
}

variable "single_nat_gateway" {
  description = "One shared NAT gateway instead of one per zone."
  type        = bool
  default     = false
}

variable "db_engine_version" {
  description = "PostgreSQL version of RDS."
  type        = string
  default     = "16.6"
}

variable "db_instance_class" {
  description = "RDS instance class."
  type        = string
  default     = "db.m7g.large"
}

variable "db_allocated_storage" {
  description = "Initial RDS storage in GiB."
  type        = number
  default     = 100
}

variable "db_max_allocated_storage" {
  description = "RDS storage autoscaling ceiling in GiB."
  type        = number
  default     = 1000
}

variable "db_backup_retention_days" {
  description = "Days of RDS automated backups."
  type        = number
  default     = 30
}

variable "db_read_replica" {
  description = "Create an RDS read replica for tenant reads (DATABASE_REPLICA_URL, ADR 0015)."
  type        = bool
  default     = false
}

variable "redis_engine_version" {
  description = "ElastiCache Redis version."
  type        = string
  default     = "7.1"
}

variable "redis_node_type" {
  description = "ElastiCache node type."
  type        = string
  default     = "cache.m7g.large"
}

variable "redis_snapshot_retention_days" {
  description = "Days of Redis snapshots."
  type        = number
  default     = 7
}

variable "log_retention_days" {
  description = "Days CloudWatch keeps logs."
  type        = number
  default     = 365
}

variable "log_level" {
  description = "LOG_LEVEL of the containers."
  type        = string
  default     = "INFO"
}

variable "waf_rate_limit" {
  description = "Requests per 5 minutes from one address before the WAF blocks it."
  type        = number
  default     = 3000
}

variable "custom_domain_certificate_arns" {
  description = "ACM certificates (ARNs) of tenants' custom domains, served next to the wildcard (see the top-level README, \"custom domain\")."
  type        = list(string)
  default     = []
}

variable "web_cpu" {
  description = "CPU units of a web task (1024 = 1 vCPU)."
  type        = number
  default     = 1024
}

variable "web_memory" {
  description = "Memory of a web task in MiB."
  type        = number
  default     = 2048
}

variable "web_min_count" {
  description = "Fewest web tasks (one per zone at least)."
  type        = number
  default     = 2
}

variable "web_max_count" {
  description = "Most web tasks autoscaling may run."
  type        = number
  default     = 12
}

variable "web_gunicorn_workers" {
  description = "gunicorn workers per web task: two per vCPU, the second overlapping I/O waits (ADR 0031)."
  type        = number
  default     = 2
}

variable "web_gunicorn_threads" {
  description = "Threads per gunicorn worker: 1 runs sync workers (ADR 0013); more switches to gthread."
  type        = number
  default     = 1
}

variable "worker_cpu" {
  description = "CPU units of a worker task."
  type        = number
  default     = 1024
}

variable "worker_memory" {
  description = "Memory of a worker task in MiB."
  type        = number
  default     = 2048
}

variable "worker_count" {
  description = "Celery worker tasks."
  type        = number
  default     = 2
}

variable "worker_concurrency" {
  description = "Celery processes per worker task."
  type        = number
  default     = 4
}

variable "extra_environment" {
  description = "Additional plain settings for every container, e.g. { TENANT_SPARE_SCHEMAS = \"10\" }."
  type        = map(string)
  default     = {}
}

variable "optional_secrets" {
  description = "STRIPE_SECRET_KEY, STRIPE_WEBHOOK_SECRET, SENTRY_DSN, EMAIL_URL; set them with TF_VAR_optional_secrets, never in a committed file. Empty ones are not created."
  type        = map(string)
  sensitive   = true
  default = {
    STRIPE_SECRET_KEY     = ""
    STRIPE_WEBHOOK_SECRET = ""
    SENTRY_DSN            = ""
    EMAIL_URL             = ""
  }
}
