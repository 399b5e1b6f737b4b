"""What each audit event is called in words, for the audit log page and its export: "Signed in",
not `account.signed_in`. Every event name the code writes has words here
(tests/app/test_audit_web.py finds them in the code and checks)."""

from __future__ import annotations

EVENT_WORDS: dict[str, str] = {
    # accounts
    "account.created": "Account created",
    "account.deactivated": "Account deactivated",
    "account.approver_set": "Return approver changed",
    "account.schools_set": "Restricted officer's schools changed",
    "account.signed_in": "Signed in",
    "account.signed_out": "Signed out",
    "account.two_factor_set_up": "Two-factor sign-in set up",
    "account.password_changed": "Password changed",
    "account.password_reset": "Password reset by an admin",
    "account.session_ended": "Signed out by Keystage (unused for too long, or 8 hours)",
    "account.two_factor_policy_set": "Who must use two-factor sign-in changed",
    # files
    "batch.created": "Upload started",
    "batch.restarted": "Upload's import restarted after the service stopped",
    "batch.failed": "Upload's import given up after the service stopped",
    "upload.accepted": "File accepted",
    "upload.superseded": "File accepted, replacing the school's earlier file",
    "upload.rejected": "File rejected",
    "register.loaded": "Schools register loaded",
    "settings.loaded": "Register of early-years settings loaded",
    "register.expected_refreshed": "Schools expected in each collection worked out again",
    # the collection
    "collection.expected_cohorts_loaded": "Expected pupil numbers loaded",
    "collection.school_deadline_set": "Deadline for schools set",
    "collection.school_sees_set": "What schools may see changed",
    # cleaning
    "pupil.added": "Pupil added",
    "pupil.edited": "Pupil record changed",
    "pupil.removed": "Pupil removed",
    "pupil.restored": "Removed pupil put back",
    "pupil.conflict_resolved": "Conflict between an edit and a new file settled",
    "query.explained": "Query explained",
    # the school check loop
    "checking.released": "Checking reports released to the school",
    "checking.reminded": "School reminded to check its data",
    "checking.confirmed": "School confirmed its data",
    "checking.query_sent": "School sent a query",
    "checking.query_answered": "LA answered the school's query",
    # who looked at pupil-level data
    "view.checking_report": "Checking report viewed",
    "export.checking_report": "Checking report downloaded",
    "view.data_errors": "Data Errors report viewed",
    "export.data_errors": "Data Errors report downloaded",
    "view.report_pupil_list": "Pupil list viewed",
    "export.report_pupil_list": "Pupil list downloaded",
    "reports.pack_requested": "Report PDF requested",
    # the statutory return
    "return.generated": "Return built",
    "return.upload_refused": "Return file refused",
    "return.loaded": "Return loaded",
    "return.submitted": "Return submitted",
    "return.authorised": "Return authorised",
    "return.la_authorised": "LA's school returns authorised",
    "return.submission_made": "Return submitted, declaration made",
    "return.sent_back": "Return sent back to the LA",
    # the data's life
    "retention.deleted": "Pupil-level data deleted at the end of its retention",
    # operating the service
    "operations.backup_made": "Backup made",
    "operations.restored": "Restored from a backup",
}


def in_words(action: str) -> str:
    """The event's words; a name without words (an event of an older version) is still shown
    readably: "Account signed in"."""
    found = EVENT_WORDS.get(action)
    if found:
        return found
    text = action.replace(".", " ").replace("_", " ").strip()
    return text[:1].upper() + text[1:]


# Events that change nothing a page reads from the data (someone looked, signed in, or changed
# only their own sign-in): the pages' cache (keystage.web.readcache) is not renewed by them.
# Every other event is taken to change data, so a new event is safe by default.
READ_ONLY_EVENTS: tuple[str, ...] = (
    "view.",
    "export.",
    "account.signed_in",
    "account.signed_out",
    "account.session_ended",
    "account.two_factor_set_up",
    "account.password_changed",
    "account.password_reset",
    "account.two_factor_policy_set",
    "reports.pack_requested",
    "operations.backup_made",
)


# Events of no LA that change no LA's data: a file refused before any LA could be told from it
# (an unknown school, an unreadable file) is on no LA's pages, so it does not renew every LA's
# kept pages (keystage.audit.stamps). Other events of no LA (the schools register, retention,
# a restore) change what every LA's pages read.
NO_LA_DATA_EVENTS: tuple[str, ...] = ("upload.rejected",)
