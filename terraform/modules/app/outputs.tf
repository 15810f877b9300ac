output "ecr_repository_url" {
  description = "Push images here, tagged with the release (image_tag)."
  value       = aws_ecr_repository.app.repository_url
}

output "cluster_name" {
  description = "ECS cluster of the services."
  value       = aws_ecs_cluster.main.name
}

output "service_names" {
  description = "ECS services: web, worker, beat."
  value       = [aws_ecs_service.web.name, aws_ecs_service.worker.name, aws_ecs_service.beat.name]
}

output "release_task_definition_arn" {
  description = "Task definition of the release step (migrate_schemas, ensure_spare_schemas), run with `aws ecs run-task` before updating the services."
  value       = aws_ecs_task_definition.app["release"].arn
}

output "task_definition_arns" {
  description = "Task definition ARN of each process (web, worker, beat, release)."
  value       = { for process, definition in aws_ecs_task_definition.app : process => definition.arn }
}

output "log_group_names" {
  description = "CloudWatch log group of each process (JSON lines with request_id, tenant and user_id)."
  value       = { for process, group in aws_cloudwatch_log_group.app : process => group.name }
}
