output "primary_address" {
  description = "Host name of the primary endpoint (follows failover)."
  value       = aws_elasticache_replication_group.main.primary_endpoint_address
}

output "replication_group_id" {
  description = "Replication group id (for alarms and the console)."
  value       = aws_elasticache_replication_group.main.id
}

output "redis_url" {
  description = "REDIS_URL for the application: TLS with certificate checks, AUTH token, database 0."
  value       = "rediss://:${random_password.auth_token.result}@${aws_elasticache_replication_group.main.primary_endpoint_address}:6379/0?ssl_cert_reqs=required"
  sensitive   = true
}
