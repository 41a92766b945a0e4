"""Mentions in: one normalised record from any listening tool, topic matching, sentiment, per-minute counts.

Pure: payload dicts in, dataclasses out. Each rejected item carries a reason, so a bad row never sinks its batch.
"""

from __future__ import annotations

import enum
import hashlib
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from bot.access import AdminDirectory, require_admin
from bot.audit import AuditRecord, AuditSink
from bot.crisis_query import SourcesQuery
from bot.sentiment import Analyser, MentionAnalyser, Sentiment, analyse_all, from_upstream

VENDORS = ("generic", "brandwatch", "talkwalker", "mention", "meltwater", "slack")
MAX_BATCH_ITEMS = 1000
MAX_TEXT_CHARS = 4000  # longer texts are kept truncated: enough to score and show, bounded row size
RETENTION = timedelta(days=30)
# How long a purged mention's key (source, source id) is kept as a tombstone so a late re-delivery is a duplicate,
# not a new mention: 13 months covers vendors' yearly re-exports and backfills. Counted from when it was received.
TOMBSTONE_HORIZON = timedelta(days=396)


class RejectionKind(enum.StrEnum):
    """Why an item was rejected, in a few words that stay the same (a metric label); the message says the details."""

    missing_field = "missing_field"
    bad_time = "bad_time"
    bad_number = "bad_number"
    no_id = "no_id"
    bad_sentiment = "bad_sentiment"
    no_text = "no_text"
    not_an_object = "not_an_object"
    unknown_vendor = "unknown_vendor"
    no_topic = "no_topic"
    invalid = "invalid"  # anything else (a malformed file row, a Slack message without ts)


class Rejected(ValueError):
    """One item cannot become a mention; the message is the reason shown to the sender."""

    def __init__(self, message: str, *, kind: RejectionKind = RejectionKind.invalid) -> None:
        super().__init__(message)
        self.kind = kind


class StoreUnavailable(RuntimeError):
    """The database did not answer; nothing of the batch was stored, so the sender should retry."""


@dataclass(frozen=True)
class Topic:
    """A brand, product or campaign a team watches; matched by keywords and hashtags (case-insensitive)."""

    id: int
    workspace_id: str
    name: str
    keywords: tuple[str, ...] = ()
    hashtags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Source:
    """A listening tool allowed to post mentions; its bearer token is stored only as a hash."""

    id: int
    name: str
    vendor: str
    workspace_id: str
    token_hash: str
    default_topic_id: int | None = None

    @property
    def mention_key(self) -> str:
        """What its mentions are stored under: names repeat across workspaces, vendor ids may too (migration 0016)."""
        return f"{self.name}@{self.workspace_id}" if self.workspace_id else self.name


@dataclass(frozen=True)
class ListeningChannel:
    """A Slack channel where a listening tool posts; each message there becomes a mention."""

    channel_id: str
    workspace_id: str
    topic_id: int | None = None


# Draft and Mention are made once per mention on the ingestion hot path; they are not frozen because a frozen
# dataclass sets each field through object.__setattr__ (about 4 µs a mention). Nothing changes them once made.
@dataclass
class Draft:
    """An item's fields after vendor mapping, before topic and sentiment are decided."""

    source_id: str
    text: str
    created_at: datetime
    author: str | None = None
    reach: int | None = None
    url: str | None = None
    language: str | None = None
    topic_name: str | None = None
    upstream: Sentiment | None = None


@dataclass
class Mention:
    source: str
    source_id: str
    topic_id: int
    text: str
    author: str | None
    reach: int | None  # author followers, when the tool knows them
    url: str | None
    language: str | None
    created_at: datetime  # the source's time (aware UTC); counts are bucketed on it
    received_at: datetime
    sentiment: Sentiment


@dataclass(frozen=True)
class Rejection:
    index: int  # position in the batch (0-based); the importer turns it into a line number
    reason: str
    source_id: str | None = None
    kind: RejectionKind = RejectionKind.invalid


@dataclass(frozen=True)
class StoredBatch:
    """What the store did with a batch of accepted mentions."""

    inserted: int
    duplicate: int


@dataclass(frozen=True)
class MentionPurge:
    """What the retention purge did: raw mentions blanked to tombstones, and tombstones past their horizon deleted."""

    tombstoned: int
    forgotten: int


@dataclass(frozen=True)
class IngestResult:
    accepted: int
    duplicate: int
    rejections: tuple[Rejection, ...] = ()

    @property
    def rejected(self) -> int:
        return len(self.rejections)

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON body the webhook answers with."""
        return {
            "accepted": self.accepted, "duplicate": self.duplicate, "rejected": self.rejected,
            "rejections": [{"index": r.index, "id": r.source_id, "reason": r.reason} for r in self.rejections],
        }


@dataclass
class MinuteCount:
    """Per-topic counters for one minute; `reach_negative` weights each negative mention by its author's reach."""

    total: int = 0
    negative: int = 0
    reach_negative: float = 0.0


class IngestTally(Protocol):
    """Counts what ingestion did (the runtime's metrics): each result by way in, and each request refused whole."""

    def counted(self, result: IngestResult, *, via: str) -> None: ...
    def refused(self, reason: str, *, via: str) -> None: ...


class Uncounted:
    """The IngestTally of a runtime without metrics: counts nothing."""

    def counted(self, result: IngestResult, *, via: str) -> None:
        return None

    def refused(self, reason: str, *, via: str) -> None:
        return None


class MentionStore(Protocol):
    def topics(self, workspace_id: str) -> list[Topic]: ...
    def store_batch(self, mentions: Sequence[Mention]) -> StoredBatch: ...


class MentionRepository(MentionStore, Protocol):
    """Everything the mention surfaces (webhook, channel listener, /crisis sources) need from storage."""

    def sources(self) -> list[Source]: ...
    def source_by_name(self, name: str, *, workspace_id: str) -> Source | None: ...
    def add_source(self, *, name: str, vendor: str, workspace_id: str, token_hash: str, now: datetime,
                   default_topic_id: int | None = None) -> Source: ...
    def update_source(self, *, name: str, workspace_id: str, token_hash: str | None = None, vendor: str | None = None,
                      default_topic_id: int | None = None) -> Source: ...
    def remove_source(self, name: str, *, workspace_id: str) -> Source: ...
    def save_topic(self, *, workspace_id: str, name: str, keywords: Sequence[str], hashtags: Sequence[str], now: datetime) -> Topic: ...
    def topic_by_name(self, *, workspace_id: str, name: str) -> Topic: ...
    def listening_channel(self, channel_id: str) -> ListeningChannel | None: ...
    def listening_channels(self, workspace_id: str) -> list[ListeningChannel]: ...
    def set_listening_channel(self, *, channel_id: str, workspace_id: str, topic_id: int | None, now: datetime) -> ListeningChannel: ...
    def remove_listening_channel(self, channel_id: str) -> bool: ...
    def totals_since(self, *, workspace_id: str, since: datetime) -> dict[str, MinuteCount]: ...


@cache
def default_analyser() -> Analyser:
    """Return the process-wide MentionAnalyser (its models load once, on first use)."""
    return MentionAnalyser()


# --- time and counts -----------------------------------------------------------------------


def minute_of(at: datetime) -> datetime:
    """Return the start of the UTC minute containing `at`."""
    return at.astimezone(UTC).replace(second=0, microsecond=0)


def reach_weight(reach: int | None) -> float:
    """Return how much one negative mention weighs: 1 when reach is unknown or tiny, growing with log10(followers)."""
    # Logarithmic so one celebrity does not outweigh a thousand ordinary complaints.
    if reach is None or reach < 10:
        return 1.0
    return math.log10(reach)


def count_by_minute(mentions: Iterable[Mention]) -> dict[tuple[int, datetime], MinuteCount]:
    """Sum mentions into per-(topic, minute) counters."""
    counts: dict[tuple[int, datetime], MinuteCount] = {}
    for mention in mentions:
        key = (mention.topic_id, minute_of(mention.created_at))
        count = counts.get(key)
        if count is None:
            count = counts[key] = MinuteCount()
        count.total += 1
        if mention.sentiment.label == "negative":
            count.negative += 1
            count.reach_negative += reach_weight(mention.reach)
    return counts


def parse_time(value: object, *, field_name: str) -> datetime:
    """Parse ISO 8601 text or epoch seconds/milliseconds into aware UTC; naive text is taken as UTC."""
    if isinstance(value, bool) or value is None or value == "":
        raise Rejected(f"{field_name} is missing", kind=RejectionKind.missing_field)
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, (int, float)) or (isinstance(value, str) and value.strip().lstrip("-").isdigit()):
        number = float(value)
        # Talkwalker sends epoch milliseconds; nothing we ingest predates 1973 in seconds, so this split is safe.
        seconds = number / 1000 if abs(number) > 1e11 else number
        try:
            return datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError) as error:
            raise Rejected(f"{field_name} {value!r} is not a time", kind=RejectionKind.bad_time) from error
    if not isinstance(value, str):
        raise Rejected(f"{field_name} {value!r} is not a time", kind=RejectionKind.bad_time)
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as error:
        raise Rejected(f"{field_name} {value!r} is not an ISO 8601 time", kind=RejectionKind.bad_time) from error
    # Exports without an offset are in UTC in every tool we map; guessing a local zone would be worse.
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


# --- vendor mappings -----------------------------------------------------------------------

_TAGS = re.compile(r"</?[A-Za-z][^<>]{0,200}>")  # HTML tags, as in Talkwalker's <b>matched</b> snippets
_URL_IN_TEXT = re.compile(r"https?://[^\s>|]+")


def _text(value: object) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        return str(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else ""
    return _TAGS.sub("", value).strip() if "<" in value else value.strip()


def _first_text(item: Mapping[str, Any], *names: str) -> str:
    for name in names:
        found = _text(_dig(item, name))
        if found:
            return found
    return ""


def _dig(item: Mapping[str, Any], path: str) -> Any:
    if "." not in path:  # most fields sit at the top of the item: skip the walk
        return item.get(path)
    value: Any = item
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def _first(item: Mapping[str, Any], *names: str) -> Any:
    for name in names:
        value = _dig(item, name)
        if value not in (None, ""):
            return value
    return None


def _count(value: object, *, field_name: str) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise Rejected(f"{field_name} must be a number, not {value!r}", kind=RejectionKind.bad_number)
    try:
        number = float(value) if isinstance(value, (int, float, str)) else math.nan
    except ValueError:
        number = math.nan
    if not math.isfinite(number) or number < 0:
        raise Rejected(f"{field_name} {value!r} is not a non-negative number", kind=RejectionKind.bad_number)
    return int(min(number, 2**62))


def _language(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    code = value.strip().replace("_", "-").split("-")[0].lower()
    # Meltwater says "zz" for unknown; the analyser then detects the language itself.
    return code if code.isalpha() and 2 <= len(code) <= 3 and code not in ("zz", "und", "xx") else None


def _source_id(item: Mapping[str, Any], url: str | None, *names: str) -> str:
    value = _first(item, *names)
    if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value).strip():
        return str(value).strip()[:255]
    if url:
        # Some tools strip ids (X/Twitter restrictions); the URL identifies the post just as well.
        return "url:" + hashlib.sha256(url.encode("utf-8")).hexdigest()[:40]
    raise Rejected("no id and no url to identify the mention", kind=RejectionKind.no_id)


def _generic_upstream(value: object) -> Sentiment | None:
    if value is None or value == "":
        return None
    label = value.get("label") if isinstance(value, Mapping) else value
    if not isinstance(label, str) or label.strip().lower() not in ("negative", "neutral", "positive", "unknown"):
        raise Rejected(f"sentiment {value!r} is not negative/neutral/positive/unknown or {{label, score}}",
                       kind=RejectionKind.bad_sentiment)
    label = label.strip().lower()
    default_score = {"negative": -1.0, "neutral": 0.0, "positive": 1.0, "unknown": 0.0}[label]
    score = value.get("score", default_score) if isinstance(value, Mapping) else default_score
    confidence = value.get("confidence", 1.0 if label != "unknown" else 0.0) if isinstance(value, Mapping) else (1.0 if label != "unknown" else 0.0)
    try:
        return Sentiment(label, float(score), float(confidence), "upstream:generic")  # type: ignore[arg-type]
    except (TypeError, ValueError) as error:
        raise Rejected(f"sentiment {value!r}: {error}", kind=RejectionKind.bad_sentiment) from error


def _vendor_upstream(vendor: str, value: object) -> Sentiment | None:
    if value is None or value == "":
        return None
    try:
        return from_upstream(vendor, value)
    except ValueError as error:
        raise Rejected(str(error), kind=RejectionKind.bad_sentiment) from error


def _draft(*, source_id: str, text: str, created: object, created_field: str, **fields: Any) -> Draft:
    if not text:
        raise Rejected("no text: the mention has neither text nor title", kind=RejectionKind.no_text)
    return Draft(source_id=source_id, text=text[:MAX_TEXT_CHARS], created_at=parse_time(created, field_name=created_field), **fields)


def _from_generic(item: Mapping[str, Any]) -> Draft:
    # The hot path of the webhook and the importer: plain lookups and one positional Draft, no keyword plumbing.
    # The checks run in the order the other mappings' _draft() runs them, so an item's first problem is the one named.
    get = item.get
    url = _text(get("url")) or None
    source_id = _source_id(item, url, "id", "source_id")
    text = _text(get("text")) or _text(get("title"))
    created = _first(item, "created_at", "published_at", "timestamp")
    author = _text(_first(item, "author", "author_handle")) or None
    reach = _count(_first(item, "author_reach", "reach", "followers"), field_name="author_reach")
    language = _language(get("language"))
    topic = get("topic")
    topic_name = topic.strip() if isinstance(topic, str) and topic.strip() else None
    sentiment = get("sentiment")
    upstream = None if sentiment is None else _generic_upstream(sentiment)
    if not text:
        raise Rejected("no text: the mention has neither text nor title", kind=RejectionKind.no_text)
    return Draft(source_id, text[:MAX_TEXT_CHARS], parse_time(created, field_name="created_at"), author, reach, url,
                 language, topic_name, upstream)


def _from_brandwatch(item: Mapping[str, Any]) -> Draft:
    url = _text(item.get("url")) or None
    return _draft(
        source_id=_source_id(item, url, "resourceId", "id"),
        text=_first_text(item, "fullText", "snippet", "title"),
        created=item.get("date"), created_field="date",
        author=_text(item.get("author")) or None,
        reach=_count(_first(item, "twitterFollowers", "instagramFollowerCount", "reachEstimate", "reach"), field_name="reach"),
        url=url, language=_language(item.get("language")),
        topic_name=_text(item.get("queryName")) or None,
        upstream=_vendor_upstream("brandwatch", item.get("sentiment")),
    )


def _from_talkwalker(item: Mapping[str, Any]) -> Draft:
    # Search results wrap each document as {"data": {...}}; the stream sends the document itself.
    if isinstance(item.get("data"), Mapping) and "url" not in item:
        item = item["data"]
    url = _text(item.get("url")) or None
    return _draft(
        source_id=_source_id(item, url, "external_id", "id"),
        text=_first_text(item, "content", "content_snippet", "title", "title_snippet"),
        created=_first(item, "published", "indexed"), created_field="published",
        author=_text(_first(item, "extra_author_attributes.short_name", "extra_author_attributes.name", "external_author_id")) or None,
        reach=_count(item.get("reach"), field_name="reach"),
        url=url, language=_language(item.get("lang")),
        topic_name=None,
        upstream=_vendor_upstream("talkwalker", item.get("sentiment")),
    )


def _from_mention(item: Mapping[str, Any]) -> Draft:
    url = _text(_first(item, "original_url", "clickable_url")) or None
    return _draft(
        source_id=_source_id(item, url, "id", "unique_id"),
        text=_first_text(item, "description", "title"),
        created=_first(item, "published_at", "created_at"), created_field="published_at",
        author=_text(_first(item, "author_influence.name", "author.name", "source_name")) or None,
        reach=_count(_first(item, "author_influence.followers_count", "main_author.followers_count", "direct_reach"), field_name="followers_count"),
        url=url, language=_language(item.get("language_code")),
        topic_name=None,
        upstream=_vendor_upstream("mention", item.get("tone")),
    )


def _from_meltwater(item: Mapping[str, Any]) -> Draft:
    url = _text(item.get("url")) or None
    return _draft(
        source_id=_source_id(item, url, "id", "external_id", "document_id"),
        text=_first_text(item, "content.text", "hit_sentence", "opening_text", "content.title", "title"),
        created=_first(item, "created_at", "timestamp", "publish_date", "published_date"), created_field="created_at",
        author=_text(_first(item, "author.username", "user.handle", "author.display_name", "document_author.name")) or None,
        reach=_count(_first(item, "metrics.audience", "author.followers", "reach"), field_name="metrics.audience"),
        url=url, language=_language(item.get("language_code")),
        topic_name=None,
        upstream=_vendor_upstream("meltwater", _first(item, "sentiment", "enrichments.sentiment")),
    )


_MAPPINGS = {
    "generic": _from_generic, "brandwatch": _from_brandwatch, "talkwalker": _from_talkwalker,
    "mention": _from_mention, "meltwater": _from_meltwater,
}
_ENVELOPES = ("mentions", "results", "documents", "data")


def split_batch(payload: object) -> list[Any]:
    """Return the items of one request: an object, a list, or a vendor envelope ({"results": [...]}, …)."""
    if isinstance(payload, list):
        return payload
    if isinstance(payload, Mapping):
        # Talkwalker search answers {"result_content": {"data": [...]}}.
        content = payload.get("result_content")
        if isinstance(content, Mapping) and isinstance(content.get("data"), list):
            return content["data"]
        for key in _ENVELOPES:
            if isinstance(payload.get(key), list):
                return payload[key]
        # Talkwalker streaming sends one chunk per result.
        chunk = payload.get("chunk_result")
        if payload.get("chunk_type") == "CT_RESULT" and isinstance(chunk, Mapping) and isinstance(chunk.get("data"), Mapping):
            return [chunk["data"]]
        return [payload]
    raise Rejected("expected a mention object, a list of them, or an envelope like {\"mentions\": [...]}")


def normalise(item: object, *, vendor: str) -> Draft:
    """Map one vendor item to a Draft, or raise Rejected with the reason."""
    if not isinstance(item, Mapping):
        raise Rejected(f"item is a {type(item).__name__}, not an object", kind=RejectionKind.not_an_object)
    mapping = _MAPPINGS.get(vendor)
    if mapping is None:
        raise Rejected(f"no mapping for vendor {vendor!r}", kind=RejectionKind.unknown_vendor)
    return mapping(item)


# --- topics --------------------------------------------------------------------------------


class TopicMatcher:
    """Find the topic a text belongs to: the first topic (by id) with a keyword or hashtag in it."""

    def __init__(self, topics: Sequence[Topic]) -> None:
        self.topics = sorted(topics, key=lambda t: t.id)
        self.by_name = {t.name.lower(): t for t in self.topics}
        self.by_id = {t.id: t for t in self.topics}
        self._patterns = [(topic, _topic_pattern(topic)) for topic in self.topics]

    def match(self, text: str) -> Topic | None:
        """Return the first topic whose keywords or hashtags occur in `text`, or None."""
        for topic, pattern in self._patterns:
            if pattern is not None and pattern.search(text):
                return topic
        return None

    def choose(self, draft: Draft, *, default_topic_id: int | None = None) -> Topic:
        """Return the named topic, else the keyword match, else the default; raise Rejected when none fits."""
        if draft.topic_name is not None:
            named = self.by_name.get(draft.topic_name.lower())
            if named is not None:
                return named
        matched = self.match(draft.text)
        if matched is not None:
            return matched
        if default_topic_id is not None and default_topic_id in self.by_id:
            return self.by_id[default_topic_id]
        if draft.topic_name is not None:
            raise Rejected(f"no topic called {draft.topic_name!r}", kind=RejectionKind.no_topic)
        raise Rejected("matches no topic (no keyword or hashtag of any topic in the text)", kind=RejectionKind.no_topic)


def _topic_pattern(topic: Topic) -> re.Pattern[str] | None:
    words = [re.escape(k.strip()) for k in topic.keywords if k.strip()]
    tags = [re.escape("#" + h.strip().lstrip("#")) for h in topic.hashtags if h.strip().lstrip("#")]
    if not words and not tags:
        return None
    # Keywords match whole words (also inside hashtags: "acme" finds "#acme"); hashtags need their '#'.
    alternatives = [rf"(?<!\w){w}(?!\w)" for w in words] + [rf"{t}(?!\w)" for t in tags]
    return re.compile("|".join(alternatives), re.IGNORECASE)


def parse_terms(text: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Split "acme, #acmefail, acme phone" into (keywords, hashtags)."""
    terms = [term.strip() for term in text.replace(";", ",").split(",") if term.strip()]
    keywords = tuple(t for t in terms if not t.startswith("#"))
    hashtags = tuple(t.lstrip("#") for t in terms if t.startswith("#") and t.lstrip("#"))
    return keywords, hashtags


# --- the use case --------------------------------------------------------------------------


@dataclass
class Prepared:
    """A batch split into matched drafts (each with its topic) and per-item rejections; duplicates inside the batch counted."""

    drafts: list[tuple[Draft, Topic]] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    duplicate_in_batch: int = 0


def prepare(items: Sequence[object], *, vendor: str, matcher: TopicMatcher, default_topic_id: int | None = None) -> Prepared:
    """Normalise and match each item (scoring is the caller's, chunk by chunk); nothing is stored here."""
    prepared = Prepared()
    seen: set[str] = set()
    for index, item in enumerate(items):
        try:
            draft = normalise(item, vendor=vendor)
            topic = matcher.choose(draft, default_topic_id=default_topic_id)
        except Rejected as error:
            source_id = _peek_id(item)
            prepared.rejections.append(Rejection(index=index, reason=str(error), source_id=source_id, kind=error.kind))
            continue
        if draft.source_id in seen:
            prepared.duplicate_in_batch += 1
            continue
        seen.add(draft.source_id)
        prepared.drafts.append((draft, topic))
    return prepared


def score_drafts(drafts: Sequence[Draft], analyser: Analyser) -> list[Sentiment]:
    """Return each draft's sentiment: the upstream one when the source gave it, else ours (scored as one batch)."""
    ours = iter(analyse_all(analyser, [(d.text, d.language) for d in drafts if d.upstream is None]))
    return [d.upstream if d.upstream is not None else next(ours) for d in drafts]


def to_mention(draft: Draft, *, source: str, topic_id: int, now: datetime, analyser: Analyser | None = None,
               sentiment: Sentiment | None = None) -> Mention:
    """Stamp the draft received now with its sentiment: upstream wins, then `sentiment`, then the analyser's reading."""
    if draft.upstream is not None:
        sentiment = draft.upstream
    elif sentiment is None:
        if analyser is None:
            raise TypeError("to_mention needs an analyser or a sentiment")
        sentiment = analyser.analyse(draft.text, draft.language)
    # A source clock ahead of ours must not create counts in minutes that have not happened yet.
    created = min(draft.created_at, now)
    return Mention(
        source=source, source_id=draft.source_id, topic_id=topic_id, text=draft.text, author=draft.author,
        reach=draft.reach, url=draft.url, language=draft.language, created_at=created, received_at=now, sentiment=sentiment,
    )


def _peek_id(item: object) -> str | None:
    if isinstance(item, Mapping):
        for key in ("id", "source_id", "resourceId", "external_id"):
            value = item.get(key)
            if isinstance(value, (str, int)) and not isinstance(value, bool):
                return str(value)[:255]
    return None


INGEST_CHUNK = 300  # mentions scored while the store writes the previous chunk of the same batch
# The last write overlaps nothing (the answer waits for it), so the last chunk is kept this short:
# a batch of 500 goes as 300, 150, 50 (bench/ingest.py: PostgreSQL webhook 47% -> 52% of VADER alone).
INGEST_TAIL = 50


def chunk_bounds(count: int) -> list[tuple[int, int]]:
    """Return the [start, end) chunks a batch of `count` is scored and written in: full ones, then a short tail."""
    bounds = []
    start = 0
    while count - start > INGEST_CHUNK:
        bounds.append((start, start + INGEST_CHUNK))
        start += INGEST_CHUNK
    if count - start > INGEST_TAIL:
        bounds.append((start, count - INGEST_TAIL))
        start = count - INGEST_TAIL
    if count > start:
        bounds.append((start, count))
    return bounds


def ingest(
    store: MentionStore, items: Sequence[object], *, source: Source, analyser: Analyser, now: datetime,
) -> IngestResult:
    """Store a batch from one source, all or nothing; raise StoreUnavailable when the database is down."""
    matcher = TopicMatcher(store.topics(source.workspace_id))
    prepared = prepare(items, vendor=source.vendor, matcher=matcher, default_topic_id=source.default_topic_id)
    drafts = prepared.drafts
    store_chunks = getattr(store, "store_chunks", None)
    if not drafts:
        stored = StoredBatch(0, 0)
    elif store_chunks is None or len(drafts) <= INGEST_CHUNK:
        stored = store.store_batch(scored_mentions(drafts, source=source.mention_key, analyser=analyser, now=now))
    else:
        # Score chunk k+1 while the store writes chunk k, still in one transaction (see Mentions.store_chunks).
        stored = store_chunks(scored_mentions(drafts[start:end], source=source.mention_key, analyser=analyser, now=now)
                              for start, end in chunk_bounds(len(drafts)))
    return IngestResult(accepted=stored.inserted, duplicate=stored.duplicate + prepared.duplicate_in_batch,
                        rejections=tuple(prepared.rejections))


def scored_mentions(chosen: Sequence[tuple[Draft, Topic]], *, source: str, analyser: Analyser, now: datetime) -> list[Mention]:
    """Score matched drafts as one batch and stamp them as mentions of `source` received now."""
    sentiments = score_drafts([draft for draft, _ in chosen], analyser)
    return [to_mention(draft, source=source, topic_id=topic.id, sentiment=sentiment, now=now)
            for (draft, topic), sentiment in zip(chosen, sentiments)]


# --- Slack channel messages ----------------------------------------------------------------


def draft_from_slack_message(message: Mapping[str, Any], *, channel_id: str) -> Draft:
    """Turn a message a listening tool posted in Slack (text, attachments, unfurls) into a Draft."""
    parts = [_text(message.get("text"))]
    url = None
    for attachment in message.get("attachments") or []:
        if not isinstance(attachment, Mapping):
            continue
        parts += [_text(attachment.get(k)) for k in ("pretext", "title", "text")]
        parts += [_text(f.get("value")) for f in attachment.get("fields") or [] if isinstance(f, Mapping)]
        url = url or _text(attachment.get("title_link")) or _text(attachment.get("from_url")) or _text(attachment.get("original_url")) or None
    text = "\n".join(p for p in parts if p)
    if url is None:
        found = _URL_IN_TEXT.search(text)
        url = found.group(0) if found else None
    ts = message.get("ts")
    if not isinstance(ts, str) or not ts:
        raise Rejected("message without ts")
    author = message.get("username") or _first(message, "bot_profile.name") or message.get("user") or message.get("bot_id")
    return _draft(source_id=f"{channel_id}:{ts}", text=text, created=float(ts), created_field="ts",
                  author=_text(author) or None, url=url)


# --- source tokens -------------------------------------------------------------------------


def new_token() -> str:
    """Return a fresh bearer token for a source (shown once; only its hash is stored)."""
    import secrets

    return "so_" + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """Return the stored form of a token: SHA-256 is enough for 256-bit random tokens (no password stretching needed)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def source_for_token(sources: Iterable[Source], token: str) -> Source | None:
    """Return the source whose token this is, comparing every stored hash in constant time."""
    import hmac

    presented = hash_token(token)
    found = None
    for source in sources:
        # No early exit: the time taken does not reveal which source (or how much of a hash) matched.
        if hmac.compare_digest(presented, source.token_hash):
            found = source
    return found


# --- the Slack channel listener's use case -------------------------------------------------

SLACK_SOURCE = "slack"
# Ordinary posts, integrations' bot posts, and the edit Slack makes when it adds a link unfurl.
_LISTENED_SUBTYPES = (None, "bot_message", "message_changed", "thread_broadcast", "file_share")


def ingest_slack_message(
    store: MentionStore, event: Mapping[str, Any], *, channel: ListeningChannel, analyser: Analyser, now: datetime,
) -> IngestResult:
    """Store one message posted in a listening channel as a mention, deduplicated by channel and ts."""
    subtype = event.get("subtype")
    if subtype not in _LISTENED_SUBTYPES:
        return IngestResult(accepted=0, duplicate=0)
    # An unfurl arrives as message_changed around the original message, with the same ts: same mention id.
    message = event.get("message") if subtype == "message_changed" else event
    if not isinstance(message, Mapping):
        return IngestResult(accepted=0, duplicate=0, rejections=(Rejection(0, "message_changed without message"),))
    try:
        draft = draft_from_slack_message(message, channel_id=channel.channel_id)
        topic = TopicMatcher(store.topics(channel.workspace_id)).choose(draft, default_topic_id=channel.topic_id)
    except Rejected as error:
        return IngestResult(accepted=0, duplicate=0, rejections=(Rejection(0, str(error), kind=error.kind),))
    mention = to_mention(draft, source=SLACK_SOURCE, topic_id=topic.id, analyser=analyser, now=now)
    stored = store.store_batch([mention])
    return IngestResult(accepted=stored.inserted, duplicate=stored.duplicate)


# --- export files (CSV columns) ------------------------------------------------------------

# Export column names of Brandwatch, Talkwalker, Mention and Meltwater (and generic ones), after header_key().
EXPORT_COLUMNS: dict[str, tuple[str, ...]] = {
    "id": ("id", "source_id", "resource_id", "resourceid", "document_id", "external_id", "mention_id", "unique_id", "tweet_id"),
    "text": ("text", "full_text", "fulltext", "content", "hit_sentence", "opening_text", "description", "snippet", "message"),
    "title": ("title", "headline", "title_snippet"),
    "created_at": ("created_at", "date", "published", "published_at", "publish_date", "published_date", "timestamp", "time"),
    "author": ("author", "author_handle", "author_name", "influencer", "username", "screen_name", "handle", "user"),
    "author_reach": ("author_reach", "followers", "twitter_followers", "author_followers", "followers_count", "reach", "audience"),
    "url": ("url", "link", "original_url", "permalink"),
    "language": ("language", "lang", "language_code"),
    "topic": ("topic", "query_name"),
    "sentiment": ("sentiment", "tone"),
}
_KNOWN_HEADERS = frozenset(name for names in EXPORT_COLUMNS.values() for name in names)
_EXPORT_TIME_FORMATS = ("%d-%b-%Y %I:%M%p", "%d-%b-%Y %H:%M", "%b %d, %Y %I:%M %p", "%d %b %Y %H:%M")


def header_key(name: str) -> str:
    """Return the comparable form of a column header ("Full Text" -> "full_text")."""
    return re.sub(r"[^a-z0-9]+", "_", name.strip().lower()).strip("_")


def looks_like_header(cells: Sequence[str]) -> bool:
    """Return whether a CSV row is the column header (Brandwatch exports put a few report lines above it)."""
    keys = {header_key(cell) for cell in cells}
    return len(keys & _KNOWN_HEADERS) >= 2


def normalise_export_row(row: Mapping[str, str], *, vendor: str) -> Draft:
    """Map one CSV export row (any vendor's column names) to a Draft; sentiment uses the vendor's scale."""
    by_key = {header_key(k): (k, v) for k, v in row.items() if k is not None}
    item: dict[str, Any] = {}
    columns: dict[str, str] = {}
    for field_name, names in EXPORT_COLUMNS.items():
        for name in names:
            header, value = by_key.get(name, ("", None))
            if isinstance(value, str) and value.strip():
                item[field_name], columns[field_name] = value.strip(), header
                break
    sentiment = item.pop("sentiment", None)
    if "created_at" in item:
        item["created_at"] = _export_time(item["created_at"])
    try:
        draft = _from_generic(item)
    except Rejected as error:
        # Name the file's own column ("Date"), not our field name.
        message = str(error)
        for field_name, header in columns.items():
            if message.startswith(field_name + " "):
                message = f"column {header!r}" + message[len(field_name):]
        raise Rejected(message, kind=error.kind) from error
    if sentiment is None:
        return draft
    upstream = _generic_upstream(sentiment.lower()) if vendor in ("generic", "slack") else _vendor_upstream(vendor, sentiment)
    draft.upstream = upstream
    return draft


def _export_time(value: str) -> str | datetime:
    for pattern in _EXPORT_TIME_FORMATS:
        try:
            return datetime.strptime(value, pattern).replace(tzinfo=UTC)
        except ValueError:
            continue
    return value


# --- /crisis sources -----------------------------------------------------------------------


@dataclass(frozen=True)
class SourcesAnswer:
    """What `/crisis sources` shows: the configuration, last-hour counts, and a token when one was just made."""

    summary: str
    sources: tuple[Source, ...]
    topics: tuple[Topic, ...]
    hour_counts: dict[str, MinuteCount]
    channels: tuple[ListeningChannel, ...]
    token: str | None = None


def configure_sources(
    store: MentionRepository, query: SourcesQuery, *, workspace_id: str, actor: str, admins: AdminDirectory,
    audit: AuditSink, via: str, now: datetime,
) -> SourcesAnswer:
    """Apply one `/crisis sources` action (admins only), audit it with before/after, and return the new picture."""
    require_admin(admins, actor, action="configure listening sources")
    token = None
    summary = "Listening sources, topics and channels."
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    if query.action == "add":
        topic_id = store.topic_by_name(workspace_id=workspace_id, name=query.topic).id if query.topic else None
        token = new_token()
        store.add_source(name=query.name, vendor=query.vendor, workspace_id=workspace_id, token_hash=hash_token(token),
                         now=now, default_topic_id=topic_id)
        after = {"name": query.name, "vendor": query.vendor, "default_topic": query.topic}
        summary = f"Source {query.name} added. Its token is shown only now."
    elif query.action == "rotate":
        token = new_token()
        old = store.update_source(name=query.name, workspace_id=workspace_id, token_hash=hash_token(token))
        before, after = {"name": old.name, "token": "previous"}, {"name": old.name, "token": "rotated"}
        summary = f"Source {query.name} has a new token; the old one stopped working."
    elif query.action == "remove":
        removed = store.remove_source(query.name, workspace_id=workspace_id)
        before = {"name": removed.name, "vendor": removed.vendor}
        summary = f"Source {query.name} removed; its token no longer works."
    elif query.action == "topic":
        keywords, hashtags = parse_terms(query.terms)
        old_topic = next((t for t in store.topics(workspace_id) if t.name.lower() == query.name.lower()), None)
        topic = store.save_topic(workspace_id=workspace_id, name=old_topic.name if old_topic else query.name,
                                 keywords=keywords, hashtags=hashtags, now=now)
        if old_topic is not None:
            before = {"topic": old_topic.name, "keywords": list(old_topic.keywords), "hashtags": list(old_topic.hashtags)}
        after = {"topic": topic.name, "keywords": list(topic.keywords), "hashtags": list(topic.hashtags)}
        summary = f"Topic {topic.name} saved."
    elif query.action == "channel":
        topic_id = store.topic_by_name(workspace_id=workspace_id, name=query.topic).id if query.topic else None
        old_channel = store.listening_channel(query.channel_id)
        store.set_listening_channel(channel_id=query.channel_id, workspace_id=workspace_id, topic_id=topic_id, now=now)
        before = None if old_channel is None else {"channel": old_channel.channel_id, "topic_id": old_channel.topic_id}
        after = {"channel": query.channel_id, "topic_id": topic_id}
        summary = f"Messages in <#{query.channel_id}> now become mentions (invite the bot there)."
    elif query.action == "unlisten":
        if store.remove_listening_channel(query.channel_id):
            before = {"channel": query.channel_id}
        summary = f"<#{query.channel_id}> is no longer read for mentions."
    if query.action != "list":
        audit.record(AuditRecord(at=now, actor=actor, action=f"sources.{query.action}", via=via,
                                 target=query.name or query.channel_id, team_id=workspace_id, before=before, after=after))
    return SourcesAnswer(
        summary=summary, sources=tuple(s for s in store.sources() if s.workspace_id == workspace_id),
        topics=tuple(store.topics(workspace_id)), hour_counts=store.totals_since(workspace_id=workspace_id, since=now - timedelta(hours=1)),
        channels=tuple(store.listening_channels(workspace_id)), token=token,
    )
