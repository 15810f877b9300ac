variable "name" {
  description = "Name prefix of every resource, e.g. tessera-production."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets (at least two zones) for the instance and its standby."
  type        = list(string)
}

variable "security_group_id" {
  description = "Security group admitting PostgreSQL from the app tasks only."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key encrypting storage, snapshots and Performance Insights."
  type        = string
}

variable "engine_version" {
  description = "PostgreSQL version (major.minor); the major picks the parameter group family."
  type        = string
}

variable "instance_class" {
  description = "RDS instance class, e.g. db.t4g.medium."
  type        = string
}

variable "allocated_storage" {
  description = "Initial storage in GiB."
  type        = number
}

variable "max_allocated_storage" {
  description = "Storage autoscaling ceiling in GiB."
  type        = number
}

variable "backup_retention_days" {
  description = "Days automated backups (point-in-time recovery) are kept."
  type        = number
}

variable "database_name" {
  description = "Name of the application database."
  type        = string
  default     = "tessera"
}

variable "username" {
  description = "Master user the application connects as."
  type        = string
  default     = "tessera"
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}

variable "proxy_max_connections_percent" {
  description = "Share of the instance's max_connections RDS Proxy may open (ADR 0014)."
  type        = number
  default     = 80
}

variable "proxy_borrow_timeout_seconds" {
  description = "How long a transaction waits for a free connection at RDS Proxy before the request answers 503."
  type        = number
  default     = 5
}

variable "max_connections" {
  description = "PostgreSQL max_connections: the whole direct-connection budget (under 100, ADR 0014)."
  type        = number
  default     = 95
}

variable "read_replica" {
  description = "Create a streaming read replica and hand it to the containers as DATABASE_REPLICA_URL (ADR 0015)."
  type        = bool
  default     = false
}

variable "replica_instance_class" {
  description = "Instance class of the read replica; empty: the primary's."
  type        = string
  default     = ""
}
