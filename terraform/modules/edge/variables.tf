variable "name" {
  description = "Name prefix of every resource, e.g. tessera-production (at most 26 characters: target group names are limited)."
  type        = string
}

variable "root_domain" {
  description = "ROOT_DOMAIN; the certificate and DNS cover it and *.<root_domain>."
  type        = string
}

variable "hosted_zone_id" {
  description = "Route 53 hosted zone that holds root_domain."
  type        = string
}

variable "vpc_id" {
  description = "VPC of the target group."
  type        = string
}

variable "public_subnet_ids" {
  description = "Public subnets (two zones or more) for the load balancer."
  type        = list(string)
}

variable "security_group_id" {
  description = "Security group of the load balancer."
  type        = string
}

variable "app_port" {
  description = "Port gunicorn listens on in the web containers."
  type        = number
}

variable "health_check_path" {
  description = "Path the load balancer checks on each web task."
  type        = string
  default     = "/healthz"
}

variable "kms_key_arn" {
  description = "KMS key encrypting the WAF log group."
  type        = string
}

variable "log_retention_days" {
  description = "Days WAF logs are kept."
  type        = number
}

variable "access_log_retention_days" {
  description = "Days load balancer access logs are kept in S3."
  type        = number
  default     = 90
}

variable "custom_domain_certificate_arns" {
  description = "ACM certificates of tenants' custom domains, added to the HTTPS listener (SNI)."
  type        = list(string)
  default     = []
}

variable "waf_rate_limit" {
  description = "Requests per 5 minutes from one address before the WAF blocks it."
  type        = number
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
