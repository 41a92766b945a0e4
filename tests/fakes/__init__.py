"""Test doubles shared by the suite: the Slack OpenAPI spec checker (the Slack stand-in lives in bot/standin)."""
