variable "name" {
  description = "Name prefix of every resource, e.g. tessera-production."
  type        = string
}

variable "cidr_block" {
  description = "CIDR block of the VPC (a /16 leaves room for /20 subnets)."
  type        = string
}

variable "availability_zones" {
  description = "Availability zones to use, e.g. [\"eu-west-1a\", \"eu-west-1b\"] (at least 2: the database and Redis fail over between them)."
  type        = list(string)

  validation {
    condition     = length(var.availability_zones) >= 2
    error_message = "Use at least two availability zones."
  }
}

variable "single_nat_gateway" {
  description = "One NAT gateway for all zones (cheaper, not zone-redundant) instead of one per zone."
  type        = bool
}

variable "kms_key_arn" {
  description = "KMS key encrypting the flow-log group."
  type        = string
}

variable "log_retention_days" {
  description = "Days VPC flow logs are kept."
  type        = number
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
