output "url" {
  description = "Public URL of the platform."
  value       = module.tessera.url
}

output "alb_dns_name" {
  description = "DNS name of the load balancer."
  value       = module.tessera.alb_dns_name
}

output "ecr_repository_url" {
  description = "ECR repository to push release images to."
  value       = module.tessera.ecr_repository_url
}

output "cluster_name" {
  description = "ECS cluster name."
  value       = module.tessera.cluster_name
}

output "service_names" {
  description = "ECS services (web, worker, beat)."
  value       = module.tessera.service_names
}

output "release_task_definition_arn" {
  description = "Task definition of the release step (migrate_schemas, ensure_spare_schemas)."
  value       = module.tessera.release_task_definition_arn
}

output "task_definition_arns" {
  description = "Task definition ARN per process."
  value       = module.tessera.task_definition_arns
}

output "private_subnet_ids" {
  description = "Subnets for one-off tasks."
  value       = module.tessera.private_subnet_ids
}

output "app_security_group_id" {
  description = "Security group for one-off tasks."
  value       = module.tessera.app_security_group_id
}

output "log_group_names" {
  description = "CloudWatch log group per process."
  value       = module.tessera.log_group_names
}

output "database_address" {
  description = "RDS endpoint host name."
  value       = module.tessera.database_address
}

output "redis_primary_address" {
  description = "ElastiCache primary endpoint host name."
  value       = module.tessera.redis_primary_address
}

output "container_secret_arns" {
  description = "Secret or parameter ARN behind each injected variable."
  value       = module.tessera.container_secret_arns
}

output "files_bucket_name" {
  description = "S3 bucket of tenant files (exports)."
  value       = module.tessera.files_bucket_name
}
