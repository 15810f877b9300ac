terraform {
  required_version = ">= 1.6.0, < 2.0.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.80"
    }
    random = {
      source  = "hashicorp/random"
      version = "~> 3.6"
    }
  }

  # State in S3 (encrypted, versioned, locked): terraform init -backend-config=backend.hcl
  # (see backend.hcl.example). Created once, outside this configuration.
  backend "s3" {}
}

provider "aws" {
  region = var.aws_region

  default_tags {
    tags = {
      Project     = "tessera"
      Environment = "production"
      ManagedBy   = "terraform"
    }
  }
}
