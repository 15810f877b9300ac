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
  description = "DATABASE_URL for the application (TLS required)."
  value       = "postgres://${var.username}:${random_password.master.result}@${aws_db_instance.main.address}:${aws_db_instance.main.port}/${var.database_name}?sslmode=require"
  sensitive   = true
}
