"""Errors of data export and deletion; codes and messages are constants tests import."""

from __future__ import annotations

from shared_apps.core.errors import Conflict, TesseraError


class Code:
    DELETION_CONFIRMATION_MISMATCH = "deletion_confirmation_mismatch"
    DELETION_ALREADY_SCHEDULED = "deletion_already_scheduled"
    DELETION_NOT_SCHEDULED = "deletion_not_scheduled"
    DELETION_GRACE_PERIOD_OVER = "deletion_grace_period_over"


class DeletionConfirmationMismatch(TesseraError):
    code = Code.DELETION_CONFIRMATION_MISMATCH
    http_status = 400
    message = "Type the organisation's subdomain exactly to confirm its deletion."


class DeletionAlreadyScheduled(Conflict):
    code = Code.DELETION_ALREADY_SCHEDULED
    message = "This organisation's deletion is already scheduled; GET shows when."


class DeletionNotScheduled(Conflict):
    code = Code.DELETION_NOT_SCHEDULED
    message = "No deletion of this organisation is scheduled."


class DeletionGracePeriodOver(Conflict):
    code = Code.DELETION_GRACE_PERIOD_OVER
    message = "The grace period is over: the deletion can no longer be canceled."
