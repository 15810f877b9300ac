"""Staging: production settings, with its own domain and Stripe test keys from the env."""

from config.settings.production import *  # noqa: F403
