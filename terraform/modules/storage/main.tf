# The bucket of tenant files (exports, final exports): private, SSE-KMS with the
# environment's key, versioned, lifecycle-expired, reachable only over TLS (ADR 0016).
#
# The app keeps every file under tenants/<schema>/<area>/... (tenants/storage.py) and
# tags each object with its area; lifecycle filters match a prefix or a tag, and the
# area is not a prefix of the key, hence the tag. Downloads are presigned GET URLs that
# a browser fetches from the internet, so no policy here may restrict reads to the VPC.

locals {
  tenant_prefix = "tenants/"
  # Must match tenants/storage.py AREA_TAG (tests/ops checks it).
  area_tag = "tessera-area"
}

resource "aws_s3_bucket" "files" {
  # checkov:skip=CKV_AWS_144:Exports are regenerated from the database on request and expire within days; a second region would only copy tenant data further.
  # checkov:skip=CKV2_AWS_62:Nothing consumes object events: the app knows every file it writes (Export rows) and the lifecycle rules expire the rest.
  bucket        = "${var.name}-files"
  force_destroy = false
  tags          = merge(var.tags, { Name = "${var.name}-files" })
}

resource "aws_s3_bucket_public_access_block" "files" {
  bucket                  = aws_s3_bucket.files.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

# ACLs off: the bucket owner owns every object, and objects can never be made public.
resource "aws_s3_bucket_ownership_controls" "files" {
  bucket = aws_s3_bucket.files.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

# Versioned: a delete by the app (or a compromised task role, which has no
# s3:DeleteObjectVersion) stays recoverable for noncurrent_version_days.
resource "aws_s3_bucket_versioning" "files" {
  bucket = aws_s3_bucket.files.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "files" {
  bucket = aws_s3_bucket.files.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = var.kms_key_arn
    }
    bucket_key_enabled = true # one KMS call per bucket key, not per object
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "files" {
  bucket = aws_s3_bucket.files.id

  rule {
    id     = "expire-exports"
    status = "Enabled"
    filter {
      tag {
        key   = local.area_tag
        value = "exports"
      }
    }
    expiration {
      days = var.export_expiry_days
    }
  }

  rule {
    id     = "expire-final-exports"
    status = "Enabled"
    filter {
      tag {
        key   = local.area_tag
        value = "final"
      }
    }
    expiration {
      days = var.final_export_retention_days
    }
  }

  rule {
    id     = "versions-and-uploads"
    status = "Enabled"
    filter {}
    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_days
    }
    expiration {
      expired_object_delete_marker = true
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }

  depends_on = [aws_s3_bucket_versioning.files]
}

resource "aws_s3_bucket_logging" "files" {
  bucket        = aws_s3_bucket.files.id
  target_bucket = var.access_logs_bucket
  target_prefix = "s3/${aws_s3_bucket.files.id}/"
}

data "aws_iam_policy_document" "files" {
  statement {
    sid       = "TlsOnly"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.files.arn, "${aws_s3_bucket.files.arn}/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "files" {
  bucket = aws_s3_bucket.files.id
  policy = data.aws_iam_policy_document.files.json

  depends_on = [aws_s3_bucket_public_access_block.files]
}
