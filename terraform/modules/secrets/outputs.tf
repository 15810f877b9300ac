output "container_secrets" {
  description = "Environment variable name -> ARN of the secret or parameter holding its value (task definition \"secrets\")."
  value = merge(
    { for key, secret in aws_secretsmanager_secret.app : key => secret.arn },
    { for key, parameter in aws_ssm_parameter.app : key => parameter.arn },
  )
}

output "secret_arns" {
  description = "ARNs of the Secrets Manager secrets (for the execution role)."
  value       = [for secret in aws_secretsmanager_secret.app : secret.arn]
}

output "parameter_arns" {
  description = "ARNs of the SSM parameters (for the execution role)."
  value       = [for parameter in aws_ssm_parameter.app : parameter.arn]
}
