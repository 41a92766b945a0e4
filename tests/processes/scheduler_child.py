"""A child process for the two-process scheduler tests: one runtime on a shared database, the same date jobs as its twin.

Run as `python -m tests.processes.scheduler_child URL SLACK_API_URL FIRE_AT_EPOCH JOBS`; prints one JSON line.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime

from apscheduler.triggers.date import DateTrigger

from bot.app import create_runtime
from bot.config import load_settings
from storage.session import Database


def main(url: str, slack_api_url: str, fire_at: float, job_count: int) -> int:
    settings = load_settings({"SLACK_BOT_TOKEN": "xoxb-child", "SLACK_SIGNING_SECRET": "s", "SLACK_API_URL": slack_api_url})
    runtime = create_runtime(settings, database=Database.from_url(url))
    runtime.start()
    when = datetime.fromtimestamp(fire_at, UTC)
    for index in range(job_count):
        # Both twins add the same ids, as two instances planning one escalation chain do.
        runtime.scheduler.add_job("bot.jobs:purge_processed_events", trigger=DateTrigger(run_date=when),
                                  id=f"probe:{index}", replace_existing=True)
    time.sleep(max(0.0, fire_at - time.time()) + 3.0)
    alive = not runtime.scheduler.died
    left = [job.id for job in runtime.scheduler.get_jobs() if job.id.startswith("probe:")]
    runtime.stop()
    print(json.dumps({"alive": alive, "left": left}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])))
