output "address" {
  description = "Host name of the database endpoint."
  value       = aws_db_instance.main.address
}

output "port" {
  description = "Port of the database endpoint."
  value       = aws_db_instance.main.port
}

output "instance_id" {
  description = "RDS instance identifier (for alarms and the console)."
  value       = aws_db_instance.main.identifier
}

output "database_url" {
  description = "DATABASE_URL for the application: through RDS Proxy (transaction multiplexing, TLS required; ADR 0014)."
  value       = "postgres://${var.username}:${random_password.master.result}@${aws_db_proxy.main.endpoint}:5432/${var.database_name}?sslmode=require"
  sensitive   = true
}

output "direct_database_url" {
  description = "The instance itself, bypassing the proxy (operators' sessions, long maintenance; TLS required)."
  value       = "postgres://${var.username}:${random_password.master.result}@${aws_db_instance.main.address}:${aws_db_instance.main.port}/${var.database_name}?sslmode=require"
  sensitive   = true
}

output "proxy_endpoint" {
  description = "Host name of the RDS Proxy endpoint the containers connect to."
  value       = aws_db_proxy.main.endpoint
}

output "replica_database_url" {
  description = "DATABASE_REPLICA_URL: the read replica itself (TLS required), or empty without one (ADR 0015)."
  value = var.read_replica ? join("", [
    "postgres://${var.username}:${random_password.master.result}@",
    "${aws_db_instance.replica[0].address}:${aws_db_instance.replica[0].port}/${var.database_name}?sslmode=require",
  ]) : ""
  sensitive = true
}
