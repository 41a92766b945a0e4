"""One socialops instance in a process of its own, for failover tests: `python -m tests.fakes.instance_process`.

Reads DATABASE_URL and SLACK_API_URL from the environment, starts the real runtime, prints `role <name>` whenever its
scheduler role changes, and takes commands on standard input, one a line:
`enqueue <key> <seconds from now> <text>` queues a chat.postMessage through this instance's outbox.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from datetime import timedelta

from bot import jobs
from bot.app import create_runtime
from bot.config import load_settings


def _report_roles(runtime, stop: threading.Event) -> None:
    last = None
    while not stop.wait(0.1):
        role = runtime.scheduler_role
        if role != last:
            print(f"role {role}", flush=True)
            last = role


def main() -> int:
    settings = load_settings({
        "SLACK_BOT_TOKEN": "xoxb-test-token", "SLACK_SIGNING_SECRET": "test-secret",
        "SLACK_API_URL": os.environ["SLACK_API_URL"], "DATABASE_URL": os.environ["DATABASE_URL"],
    })
    runtime = create_runtime(settings)
    runtime.start()
    stop = threading.Event()
    threading.Thread(target=_report_roles, args=(runtime, stop), daemon=True).start()
    try:
        for line in sys.stdin:
            command, _, rest = line.strip().partition(" ")
            if command == "enqueue":
                key, seconds, text = rest.split(" ", 2)
                jobs.enqueue_call(dedupe_key=key, method="chat.postMessage",
                                  payload={"channel": "C0DEMOANNOUNCE", "text": text},
                                  due_at=runtime.clock() + timedelta(seconds=float(seconds)))
                print(f"queued {key}", flush=True)
    finally:
        stop.set()
        time.sleep(0.2)
        runtime.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
