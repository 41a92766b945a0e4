"""Durable file uploads (bot/flows/uploads.py) on in-memory ports: once per key, retried like the outbox, given up loudly."""

from datetime import UTC, datetime, timedelta

from bot.errors import DeliveryFailed
from bot.flows.uploads import FileUpload, Uploader
from bot.outbox import MAX_ATTEMPTS
from tests.fakes.memory import MemoryAudit

T0 = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)


class Ledger:
    def __init__(self) -> None:
        self.keys: set[str] = set()

    def has_run(self, run_key):
        return run_key in self.keys

    def claim(self, run_key, *, at):
        fresh = run_key not in self.keys
        self.keys.add(run_key)
        return fresh


class Slack:
    def __init__(self, fail=None) -> None:
        self.fail = fail
        self.uploaded: list[tuple[str, str]] = []

    def open_dm(self, user):
        return "D" + user

    def upload_file(self, *, channel, filename, content, title):
        if self.fail is not None:
            raise self.fail
        self.uploaded.append((channel, filename))
        return {"ok": True}


class Outbox:
    def __init__(self) -> None:
        self.sent: list[dict] = []

    def send(self, **call):
        self.sent.append(call)
        return len(self.sent)


class Later:
    def __init__(self) -> None:
        self.jobs: dict[str, tuple] = {}

    def at(self, func, *, job_id, when, args):
        self.jobs[job_id] = (func, when, args)


def uploader(slack=None):
    return Uploader(clock=lambda: T0, ledger=Ledger(), slack=slack or Slack(), audit=MemoryAudit(), outbox=Outbox(), later=Later(), display_name=str)


EXPORT = FileUpload(key="export:U1:1:rotations", filename="rotations.csv", content=b"a,b", title="rotations", user="U1", workspace_id="T1")


def test_each_file_is_uploaded_once_per_key_to_the_users_dm():
    """A rerun after a crash (the same key) uploads nothing twice."""
    files = uploader()
    assert files.upload_files([EXPORT]) and files.upload_files([EXPORT])
    assert files.slack.uploaded == [("DU1", "rotations.csv")]


def test_a_transient_failure_waits_for_a_retry_job_with_the_outbox_backoff():
    """A 503: not up yet, a retry job `upload:<key>` 5 s later carrying the next attempt number."""
    files = uploader(Slack(fail=DeliveryFailed("files.completeUploadExternal", "service_unavailable")))
    assert files.upload_files([EXPORT]) is False
    func, when, args = files.later.jobs["upload:export:U1:1:rotations"]
    assert (func, when, args[1]) == ("bot.jobs:retry_file_upload", T0 + timedelta(seconds=5), 2)
    assert FileUpload(**args[0]) == EXPORT and files.audit.records == []


def test_a_permanent_failure_or_the_last_attempt_is_audited_and_told_to_the_asker():
    """Given up: an upload_failed audit entry and one DM to the person who asked; no retry job."""
    for fail, attempt in ((DeliveryFailed("files.getUploadURLExternal", "not_in_channel"), 1),
                          (DeliveryFailed("files.getUploadURLExternal", "service_unavailable"), MAX_ATTEMPTS)):
        files = uploader(Slack(fail=fail))
        assert files.upload_once(EXPORT, attempt=attempt) is False
        (record,) = files.audit.records
        assert (record.action, record.target, record.after["attempts"]) == ("upload_failed", EXPORT.key, attempt)
        assert [m["dedupe_key"] for m in files.outbox.sent] == [f"upload-failed:{EXPORT.key}"] and files.later.jobs == {}

