variable "name" {
  description = "Name prefix of every resource, e.g. tessera-production."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets (at least two zones) for the primary and the replica."
  type        = list(string)
}

variable "security_group_id" {
  description = "Security group admitting Redis from the app tasks only."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key encrypting data at rest and the slow log."
  type        = string
}

variable "engine_version" {
  description = "Redis engine version, e.g. 7.1."
  type        = string
}

variable "node_type" {
  description = "ElastiCache node type, e.g. cache.t4g.small."
  type        = string
}

variable "snapshot_retention_days" {
  description = "Days daily snapshots are kept (queued tasks survive a total loss)."
  type        = number
}

variable "log_retention_days" {
  description = "Days the slow log is kept."
  type        = number
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
