# Catalog data belongs to tenants; it is managed through the tenant API, not the
# platform admin (which runs on the public schema).
