"""Background work over tenants: one package for the tenant-task protocol (ADR 0006, 0027).

* ``headers``: the message headers (names), stamping every published message, reading
  them back.
* ``task_context``: ``TaskContext``, the running task's tenant, request id and user,
  bound around every task; logs, Sentry and stamping read it.
* ``tasking``: ``TenantTask`` (every task's base), ``@tenant_task``, ``@public_task``,
  the router and the worker's tenant cache.
* ``fanout``, ``models``, ``admin``, ``tasks``: the fan-out dispatcher, its run records,
  their admin, and beat's generic ``run_fanout`` task.
* ``recycling``: bounded PostgreSQL memory for processes that walk many schemas.
* ``manage.py run_for_tenants``: a command or task in every tenant.

Dependencies point one way: ``fanout`` knows nothing of ``tasking``; the task base
calls into ``fanout`` for fan-out items.
"""
