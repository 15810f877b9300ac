variable "name" {
  description = "Name prefix of every secret and parameter, e.g. tessera-production."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key encrypting the secrets and parameters."
  type        = string
}

variable "database_url" {
  description = "DATABASE_URL (from modules/database)."
  type        = string
  sensitive   = true
}

variable "replica_enabled" {
  description = "Whether there is a read replica (its URL is sensitive: for_each cannot key on it)."
  type        = bool
  default     = false
}

variable "database_replica_url" {
  description = "DATABASE_REPLICA_URL (from modules/database), when replica_enabled."
  type        = string
  sensitive   = true
  default     = ""
}

variable "redis_url" {
  description = "REDIS_URL (from modules/cache)."
  type        = string
  sensitive   = true
}

variable "root_domain" {
  description = "ROOT_DOMAIN: the public host; tenants live at <subdomain>.<root_domain>."
  type        = string
}

variable "admin_url" {
  description = "DJANGO_ADMIN_URL: path of the platform admin, e.g. a hard-to-guess \"ops-7f3a/\"."
  type        = string
}

variable "extra_secrets" {
  description = "Optional secrets by variable name (STRIPE_SECRET_KEY, STRIPE_WEBHOOK_SECRET, SENTRY_DSN, EMAIL_URL); only non-empty ones."
  type        = map(string)
  sensitive   = true
  default     = {}
}

variable "recovery_window_days" {
  description = "Days a deleted secret can still be restored."
  type        = number
  default     = 30
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
