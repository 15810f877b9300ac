"""A tenant's own data, out and gone (SPEC §13): the full export archive (GDPR art. 20)
and the owner-requested deletion of an organisation, with its grace period and the
record that outlives it. Public-schema app: the schedule and the record must outlive the
tenant's schema (ADR 0023)."""
