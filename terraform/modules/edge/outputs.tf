output "alb_arn" {
  description = "ARN of the load balancer."
  value       = aws_lb.main.arn
}

output "alb_dns_name" {
  description = "DNS name of the load balancer (the Route 53 records alias it)."
  value       = aws_lb.main.dns_name
}

output "alb_resource_label" {
  description = "\"<alb>/<target group>\" label for request-count autoscaling and alarms."
  value       = "${aws_lb.main.arn_suffix}/${aws_lb_target_group.web.arn_suffix}"
}

output "target_group_arn" {
  description = "Target group the web service registers its tasks in."
  value       = aws_lb_target_group.web.arn
}

output "https_listener_arn" {
  description = "HTTPS listener (the web service depends on it)."
  value       = aws_lb_listener.https.arn
}

output "certificate_arn" {
  description = "ACM certificate for root_domain and *.root_domain."
  value       = aws_acm_certificate_validation.main.certificate_arn
}

output "web_acl_arn" {
  description = "WAF web ACL in front of the load balancer."
  value       = aws_wafv2_web_acl.main.arn
}

output "access_logs_bucket" {
  description = "Bucket of the access logs (ALB under alb/, S3 server access logs under s3/)."
  value       = aws_s3_bucket.access_logs.id
}
