variable "name" {
  description = "Name prefix of every resource, e.g. tessera-production."
  type        = string
}

variable "environment" {
  description = "Environment name (staging, production): Sentry's environment."
  type        = string
}

variable "settings_module" {
  description = "DJANGO_SETTINGS_MODULE of every container."
  type        = string
}

variable "image_tag" {
  description = "Tag of the image in this module's ECR repository to run (immutable; also the Sentry release)."
  type        = string
}

variable "app_port" {
  description = "Port gunicorn listens on in the web containers."
  type        = number
}

variable "app_uid" {
  description = "uid/gid of the image's unprivileged user (Dockerfile APP_UID)."
  type        = number
  default     = 10001
}

variable "cpu_architecture" {
  description = "X86_64 or ARM64, matching the architecture the image is built for."
  type        = string
  default     = "X86_64"
}

variable "private_subnet_ids" {
  description = "Private subnets the tasks run in."
  type        = list(string)
}

variable "app_security_group_id" {
  description = "Security group of every app task."
  type        = string
}

variable "files_bucket_name" {
  description = "S3 bucket of tenant files (STORAGE_BUCKET), from modules/storage."
  type        = string
}

variable "files_bucket_arn" {
  description = "ARN of the bucket of tenant files: web and worker may use its tenant prefix."
  type        = string
}

variable "files_prefix" {
  description = "Key prefix of tenant files in the bucket (the app writes tenants/<schema>/...)."
  type        = string
  default     = "tenants/"
}

variable "download_url_seconds" {
  description = "STORAGE_DOWNLOAD_URL_SECONDS: lifetime of a presigned download URL (at most 900)."
  type        = number
  default     = 120
}

variable "target_group_arn" {
  description = "Load balancer target group of the web service."
  type        = string
}

variable "alb_resource_label" {
  description = "\"<alb>/<target group>\" label for request-count autoscaling."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key of the environment (logs, ECR, the files bucket; decrypting secrets)."
  type        = string
}

variable "container_secrets" {
  description = "Environment variable name -> Secrets Manager secret or SSM parameter ARN, injected into every container."
  type        = map(string)
}

variable "secret_arns" {
  description = "Secrets Manager ARNs the execution role may read."
  type        = list(string)
}

variable "parameter_arns" {
  description = "SSM parameter ARNs the execution role may read."
  type        = list(string)
}

variable "extra_environment" {
  description = "Additional plain environment variables for every container (e.g. TENANT_SPARE_SCHEMAS)."
  type        = map(string)
  default     = {}
}

variable "log_level" {
  description = "LOG_LEVEL of every container."
  type        = string
  default     = "INFO"
}

variable "log_retention_days" {
  description = "Days container logs are kept."
  type        = number
}

variable "images_to_keep" {
  description = "Images kept in ECR (older ones expire)."
  type        = number
  default     = 30
}

variable "web_cpu" {
  description = "CPU units of a web task (1024 = 1 vCPU)."
  type        = number
}

variable "web_memory" {
  description = "Memory of a web task in MiB."
  type        = number
}

variable "web_min_count" {
  description = "Fewest web tasks (also the initial count); at least 2 for two zones."
  type        = number
}

variable "web_max_count" {
  description = "Most web tasks autoscaling may run."
  type        = number
}

variable "web_cpu_target" {
  description = "Average CPU percentage the web service is scaled to."
  type        = number
  default     = 60
}

variable "web_requests_per_task_target" {
  description = "Requests per web task per minute the web service is scaled to."
  type        = number
  default     = 1000
}

variable "web_gunicorn_workers" {
  description = "GUNICORN_WORKERS per web task."
  type        = number
}

variable "web_gunicorn_threads" {
  description = "GUNICORN_THREADS per gunicorn worker."
  type        = number
}

variable "worker_cpu" {
  description = "CPU units of a worker (and release) task."
  type        = number
}

variable "worker_memory" {
  description = "Memory of a worker (and release) task in MiB."
  type        = number
}

variable "worker_count" {
  description = "Number of Celery worker tasks."
  type        = number
}

variable "worker_queues" {
  description = "Queues every worker consumes (the app's CELERY_TASK_QUEUES)."
  type        = list(string)
  default     = ["default", "billing", "bulk"]
}

variable "worker_concurrency" {
  description = "Celery processes per worker task."
  type        = number
}

variable "beat_cpu" {
  description = "CPU units of the beat task."
  type        = number
  default     = 256
}

variable "beat_memory" {
  description = "Memory of the beat task in MiB."
  type        = number
  default     = 512
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
