"""Asynchronous use cases: what happens after the ack, each decided by a pure function beside the executor that acts on it."""
