# The application on ECS Fargate, from the image built by the repository's Dockerfile:
#
# * web     gunicorn behind the load balancer, autoscaled on CPU and requests per task
# * worker  Celery worker on the default, billing and bulk queues
# * beat    Celery beat: exactly one task, never two (not even during a deploy)
# * release migrate_schemas + ensure_spare_schemas, a one-off task run on each release
#
# Every container gets the same configuration: plain settings as environment variables,
# secrets and per-environment values injected by ECS from Secrets Manager and SSM.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.name
  image      = "${aws_ecr_repository.app.repository_url}:${var.image_tag}"

  # The processes, as the image runs them (docker-compose.yml runs the same commands).
  commands = {
    web     = ["gunicorn", "--config", "gunicorn.conf.py", "config.wsgi:application"]
    worker  = ["celery", "-A", "config", "worker", "--loglevel", "info", "--queues", join(",", var.worker_queues), "--concurrency", tostring(var.worker_concurrency)]
    beat    = ["celery", "-A", "config", "beat", "--loglevel", "info", "--schedule", "/tmp/celerybeat-schedule"]
    release = ["sh", "-c", "python manage.py migrate_schemas && python manage.py ensure_spare_schemas"]
  }

  # Plain (non-secret) settings, the same for every process.
  base_environment = {
    DJANGO_SETTINGS_MODULE = var.settings_module
    PORT                   = tostring(var.app_port)
    LOG_LEVEL              = var.log_level
    LOG_FORMAT             = "json"
    # Tenant files (exports) in the S3 bucket of modules/storage (ADR 0016).
    STORAGE_BUCKET               = var.files_bucket_name
    STORAGE_REGION               = local.region
    STORAGE_DOWNLOAD_URL_SECONDS = tostring(var.download_url_seconds)
    # The ALB appends the client address to X-Forwarded-For and sets X-Forwarded-Proto.
    NUM_PROXIES         = "1"
    FORWARDED_ALLOW_IPS = "*"
    SENTRY_ENVIRONMENT  = var.environment
    SENTRY_RELEASE      = var.image_tag
    GUNICORN_WORKERS    = tostring(var.web_gunicorn_workers)
    GUNICORN_THREADS    = tostring(var.web_gunicorn_threads)
  }
  environment      = merge(local.base_environment, var.extra_environment)
  environment_list = [for key in sort(keys(local.environment)) : { name = key, value = local.environment[key] }]
  secrets_list     = [for key in sort(keys(var.container_secrets)) : { name = key, valueFrom = var.container_secrets[key] }]

  # files: the process reads and writes tenant files (its task role may use the bucket).
  processes = {
    web     = { cpu = var.web_cpu, memory = var.web_memory, files = true, port = true, stop_timeout = 30 }
    worker  = { cpu = var.worker_cpu, memory = var.worker_memory, files = true, port = false, stop_timeout = 120 }
    beat    = { cpu = var.beat_cpu, memory = var.beat_memory, files = false, port = false, stop_timeout = 30 }
    release = { cpu = var.worker_cpu, memory = var.worker_memory, files = false, port = false, stop_timeout = 30 }
  }

  containers = {
    for process, spec in local.processes : process => {
      name                   = process
      image                  = local.image
      essential              = true
      command                = local.commands[process]
      environment            = local.environment_list
      secrets                = local.secrets_list
      user                   = "${var.app_uid}:${var.app_uid}"
      readonlyRootFilesystem = true
      privileged             = false
      stopTimeout            = spec.stop_timeout
      portMappings           = spec.port ? [{ containerPort = var.app_port, protocol = "tcp" }] : []
      healthCheck = spec.port ? {
        command     = ["CMD", "python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:${var.app_port}/healthz', timeout=3)"]
        interval    = 15
        timeout     = 5
        retries     = 3
        startPeriod = 30
      } : null
      mountPoints = [{ sourceVolume = "tmp", containerPath = "/tmp", readOnly = false }]
      logConfiguration = {
        logDriver = "awslogs"
        options = {
          awslogs-group         = aws_cloudwatch_log_group.app[process].name
          awslogs-region        = local.region
          awslogs-stream-prefix = process
        }
      }
    }
  }
}

# Image registry ------------------------------------------------------------------------------

resource "aws_ecr_repository" "app" {
  name                 = var.name
  image_tag_mutability = "IMMUTABLE"
  force_delete         = false

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    encryption_type = "KMS"
    kms_key         = var.kms_key_arn
  }

  tags = var.tags
}

resource "aws_ecr_lifecycle_policy" "app" {
  repository = aws_ecr_repository.app.name
  policy = jsonencode({
    rules = [{
      rulePriority = 1
      description  = "Keep the last ${var.images_to_keep} images"
      selection    = { tagStatus = "any", countType = "imageCountMoreThan", countNumber = var.images_to_keep }
      action       = { type = "expire" }
    }]
  })
}

# Logs -----------------------------------------------------------------------------------------

resource "aws_cloudwatch_log_group" "app" {
  for_each          = local.processes
  name              = "/tessera/${var.name}/${each.key}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

# IAM: the execution role starts containers, the task role is what the app may do --------------

data "aws_iam_policy_document" "ecs_tasks_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "execution" {
  name               = "${var.name}-execution"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
  tags               = var.tags
}

data "aws_iam_policy_document" "execution" {
  statement {
    sid = "PullImage"
    actions = [
      "ecr:BatchCheckLayerAvailability",
      "ecr:BatchGetImage",
      "ecr:GetDownloadUrlForLayer",
    ]
    resources = [aws_ecr_repository.app.arn]
  }
  statement {
    sid       = "EcrLogin"
    actions   = ["ecr:GetAuthorizationToken"] # cannot be scoped to a repository
    resources = ["*"]
  }
  statement {
    sid       = "WriteLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = [for group in aws_cloudwatch_log_group.app : "${group.arn}:*"]
  }
  statement {
    sid       = "ReadSecrets"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = var.secret_arns
  }
  statement {
    sid       = "ReadParameters"
    actions   = ["ssm:GetParameters"]
    resources = var.parameter_arns
  }
  statement {
    sid       = "DecryptSecrets"
    actions   = ["kms:Decrypt"]
    resources = [var.kms_key_arn]
  }
}

resource "aws_iam_role_policy" "execution" {
  name   = "start-tessera-containers"
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.execution.json
}

# Two task roles: web and worker handle tenant files ("files" above) and may use the
# bucket's tenant prefix; beat and the release task get a role with no permission at all.
resource "aws_iam_role" "task" {
  name               = "${var.name}-task"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
  tags               = var.tags
}

resource "aws_iam_role" "task_without_files" {
  name               = "${var.name}-task-no-files"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
  tags               = var.tags
}

# Least privilege on the files bucket (ADR 0016): objects under the tenant prefix only;
# no s3:DeleteObjectVersion (deletes stay recoverable, the bucket is versioned), no
# bucket-level action but listing.
data "aws_iam_policy_document" "task" {
  statement {
    sid = "TenantFiles"
    actions = [
      "s3:GetObject",
      "s3:PutObject",
      "s3:PutObjectTagging", # the area tag the lifecycle rules match, sent with PutObject
      "s3:DeleteObject",
      "s3:AbortMultipartUpload",
    ]
    resources = ["${var.files_bucket_arn}/${var.files_prefix}*"]
  }
  # Listing makes S3 answer 404 (not 403) for a missing key, which the app tells apart
  # from an outage. Listing requests themselves must stay under the tenant prefix.
  statement {
    sid       = "ListTenantFiles"
    actions   = ["s3:ListBucket"]
    resources = [var.files_bucket_arn]
    condition {
      test     = "StringLikeIfExists"
      variable = "s3:prefix"
      values   = ["${var.files_prefix}*"]
    }
  }
  # The bucket is SSE-KMS with the environment key: S3 asks KMS on the role's behalf.
  statement {
    sid       = "TenantFilesKey"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = [var.kms_key_arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${local.region}.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy" "task" {
  name   = "tessera-tenant-files"
  role   = aws_iam_role.task.id
  policy = data.aws_iam_policy_document.task.json
}

# Cluster, task definitions, services ---------------------------------------------------------

resource "aws_ecs_cluster" "main" {
  name = var.name

  setting {
    name  = "containerInsights"
    value = "enabled"
  }

  tags = var.tags
}

resource "aws_ecs_cluster_capacity_providers" "main" {
  cluster_name       = aws_ecs_cluster.main.name
  capacity_providers = ["FARGATE"]

  default_capacity_provider_strategy {
    capacity_provider = "FARGATE"
    weight            = 1
  }
}

resource "aws_ecs_task_definition" "app" {
  for_each                 = local.processes
  family                   = "${var.name}-${each.key}"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = tostring(each.value.cpu)
  memory                   = tostring(each.value.memory)
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = each.value.files ? aws_iam_role.task.arn : aws_iam_role.task_without_files.arn
  container_definitions    = jsonencode([local.containers[each.key]])

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.cpu_architecture
  }

  # Scratch space (the root filesystem is read-only): Celery beat's schedule, temp files.
  volume {
    name = "tmp"
  }

  tags = var.tags
}

resource "aws_ecs_service" "web" {
  name                               = "web"
  cluster                            = aws_ecs_cluster.main.id
  task_definition                    = aws_ecs_task_definition.app["web"].arn
  desired_count                      = var.web_min_count
  launch_type                        = "FARGATE"
  platform_version                   = "LATEST"
  health_check_grace_period_seconds  = 60
  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200
  enable_ecs_managed_tags            = true
  propagate_tags                     = "SERVICE"

  network_configuration {
    subnets          = var.private_subnet_ids
    security_groups  = [var.app_security_group_id]
    assign_public_ip = false
  }

  load_balancer {
    target_group_arn = var.target_group_arn
    container_name   = "web"
    container_port   = var.app_port
  }

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  lifecycle {
    ignore_changes = [desired_count] # owned by autoscaling
  }

  tags = var.tags
}

resource "aws_ecs_service" "worker" {
  name                               = "worker"
  cluster                            = aws_ecs_cluster.main.id
  task_definition                    = aws_ecs_task_definition.app["worker"].arn
  desired_count                      = var.worker_count
  launch_type                        = "FARGATE"
  platform_version                   = "LATEST"
  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200
  enable_ecs_managed_tags            = true
  propagate_tags                     = "SERVICE"

  network_configuration {
    subnets          = var.private_subnet_ids
    security_groups  = [var.app_security_group_id]
    assign_public_ip = false
  }

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  tags = var.tags
}

# Exactly one beat: a deploy stops the old task before starting the new one (0 % / 100 %),
# so two schedulers never run at once (a gap of seconds is harmless: beat catches up).
resource "aws_ecs_service" "beat" {
  name                               = "beat"
  cluster                            = aws_ecs_cluster.main.id
  task_definition                    = aws_ecs_task_definition.app["beat"].arn
  desired_count                      = 1
  launch_type                        = "FARGATE"
  platform_version                   = "LATEST"
  deployment_minimum_healthy_percent = 0
  deployment_maximum_percent         = 100
  enable_ecs_managed_tags            = true
  propagate_tags                     = "SERVICE"

  network_configuration {
    subnets          = var.private_subnet_ids
    security_groups  = [var.app_security_group_id]
    assign_public_ip = false
  }

  tags = var.tags
}

# Web autoscaling --------------------------------------------------------------------------------

resource "aws_appautoscaling_target" "web" {
  service_namespace  = "ecs"
  resource_id        = "service/${aws_ecs_cluster.main.name}/${aws_ecs_service.web.name}"
  scalable_dimension = "ecs:service:DesiredCount"
  min_capacity       = var.web_min_count
  max_capacity       = var.web_max_count
}

resource "aws_appautoscaling_policy" "web_cpu" {
  name               = "${var.name}-web-cpu"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.web.service_namespace
  resource_id        = aws_appautoscaling_target.web.resource_id
  scalable_dimension = aws_appautoscaling_target.web.scalable_dimension

  target_tracking_scaling_policy_configuration {
    target_value       = var.web_cpu_target
    scale_in_cooldown  = 300
    scale_out_cooldown = 60
    predefined_metric_specification {
      predefined_metric_type = "ECSServiceAverageCPUUtilization"
    }
  }
}

resource "aws_appautoscaling_policy" "web_requests" {
  name               = "${var.name}-web-requests"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.web.service_namespace
  resource_id        = aws_appautoscaling_target.web.resource_id
  scalable_dimension = aws_appautoscaling_target.web.scalable_dimension

  target_tracking_scaling_policy_configuration {
    target_value       = var.web_requests_per_task_target
    scale_in_cooldown  = 300
    scale_out_cooldown = 60
    predefined_metric_specification {
      predefined_metric_type = "ALBRequestCountPerTarget"
      resource_label         = var.alb_resource_label
    }
  }
}
