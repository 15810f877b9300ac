variable "name" {
  description = "Name prefix of every resource, e.g. tessera-production (the bucket is <name>-files)."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key of the environment: the bucket's default encryption (SSE-KMS)."
  type        = string
}

variable "access_logs_bucket" {
  description = "Bucket (name) that receives this bucket's S3 server access logs, under s3/<bucket>/."
  type        = string
}

variable "export_expiry_days" {
  description = "Days after which S3 deletes an export (objects tagged tessera-area=exports). The app's daily clean-up deletes them after 7 days; this is the backstop."
  type        = number
  default     = 8
}

variable "final_export_retention_days" {
  description = "Days the final export of a deleted tenant (tessera-area=final) is kept."
  type        = number
  default     = 365
}

variable "noncurrent_version_days" {
  description = "Days a deleted or overwritten object stays recoverable as a noncurrent version."
  type        = number
  default     = 7
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
