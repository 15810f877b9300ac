output "url" {
  description = "Public URL of the platform (tenants at https://<subdomain>.<root_domain>/)."
  value       = "https://${var.root_domain}/"
}

output "alb_dns_name" {
  description = "DNS name of the load balancer."
  value       = module.edge.alb_dns_name
}

output "ecr_repository_url" {
  description = "ECR repository to push release images to."
  value       = module.app.ecr_repository_url
}

output "cluster_name" {
  description = "ECS cluster name."
  value       = module.app.cluster_name
}

output "service_names" {
  description = "ECS services (web, worker, beat)."
  value       = module.app.service_names
}

output "release_task_definition_arn" {
  description = "Task definition of the release step, for `aws ecs run-task`."
  value       = module.app.release_task_definition_arn
}

output "task_definition_arns" {
  description = "Task definition ARN per process."
  value       = module.app.task_definition_arns
}

output "private_subnet_ids" {
  description = "Subnets to run one-off tasks in (`aws ecs run-task --network-configuration`)."
  value       = module.network.private_subnet_ids
}

output "app_security_group_id" {
  description = "Security group for one-off tasks."
  value       = module.firewall.app_security_group_id
}

output "log_group_names" {
  description = "CloudWatch log group per process."
  value       = module.app.log_group_names
}

output "database_address" {
  description = "RDS endpoint host name."
  value       = module.database.address
}

output "redis_primary_address" {
  description = "ElastiCache primary endpoint host name."
  value       = module.cache.primary_address
}

output "container_secret_arns" {
  description = "Where each injected variable lives (put new values here, then redeploy)."
  value       = module.secrets.container_secrets
}

output "files_bucket_name" {
  description = "S3 bucket of tenant files (exports), private and SSE-KMS (ADR 0016)."
  value       = module.storage.bucket_name
}
