"""File uploads that survive a Slack outage (report charts, exports): what one upload is."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class FileUpload:
    """One file to upload once: `key` is its ledger run key (and retry job id); to `channel`, else to `user`'s DM."""

    key: str
    filename: str
    content: bytes
    title: str
    channel: str | None = None
    user: str | None = None
    workspace_id: str | None = None  # for the audit entry when it fails for good

    def as_job_args(self) -> dict[str, Any]:
        """Return the upload as the plain arguments a persisted retry job carries."""
        return {"key": self.key, "filename": self.filename, "content": self.content, "title": self.title, "channel": self.channel,
                "user": self.user, "workspace_id": self.workspace_id}
