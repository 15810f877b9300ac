from django.contrib import admin
from rest_framework_api_key.models import APIKey

# The library's own (public-schema) APIKey model is unused: keys are per tenant schema
# (tenant_apps.integrations.ApiKey) and managed through the tenant's API.
if admin.site.is_registered(APIKey):
    admin.site.unregister(APIKey)
