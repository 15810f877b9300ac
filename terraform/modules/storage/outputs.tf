output "bucket_name" {
  description = "Bucket of tenant files (STORAGE_BUCKET of the app)."
  value       = aws_s3_bucket.files.id
}

output "bucket_arn" {
  description = "ARN of the bucket of tenant files (for the task role's policy)."
  value       = aws_s3_bucket.files.arn
}

output "tenant_prefix" {
  description = "Key prefix under which the app keeps every tenant's files (tenants/<schema>/...)."
  value       = local.tenant_prefix
}
