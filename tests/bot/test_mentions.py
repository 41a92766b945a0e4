"""Mention normalisation per vendor, topic matching, minute buckets, reach weights and the pure ingest use case."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from bot import mentions
from bot.mentions import (
    Draft, Mention, Rejected, Source, StoredBatch, Topic, TopicMatcher, count_by_minute, minute_of, normalise, reach_weight,
)
from bot.sentiment import Sentiment

NOW = datetime(2026, 3, 2, 12, 30, 45, tzinfo=UTC)
ACME = Topic(id=1, workspace_id="T1", name="acme", keywords=("acme", "acme phone"), hashtags=("acmefail",))
OTHER = Topic(id=2, workspace_id="T1", name="globex", keywords=("globex",))


class FixedAnalyser:
    """Scores everything negative, so tests can tell our analyser from upstream sentiment."""

    def analyse(self, text: str, language: str | None = None) -> Sentiment:
        return Sentiment("negative", -0.5, 0.7, "fixed")


class MemoryStore:
    def __init__(self, topics: Sequence[Topic] = (ACME, OTHER)) -> None:
        self._topics = list(topics)
        self.rows: dict[tuple[str, str], Mention] = {}

    def topics(self, workspace_id: str) -> list[Topic]:
        return [t for t in self._topics if t.workspace_id == workspace_id]

    def store_batch(self, batch: Sequence[Mention]) -> StoredBatch:
        new = [m for m in batch if (m.source, m.source_id) not in self.rows]
        self.rows.update({(m.source, m.source_id): m for m in new})
        return StoredBatch(inserted=len(new), duplicate=len(batch) - len(new))


def test_brandwatch_mention_maps_ids_text_date_reach_and_sentiment():
    """A Brandwatch Consumer Research mention maps resourceId, fullText, date, twitterFollowers and categorical sentiment."""
    item = {
        "resourceId": 128936212, "id": 8193782, "queryId": 1998274, "queryName": "Acme brand",
        "date": "2016-06-07T02:04:00.000+0000", "added": "2016-06-07T02:05:12.000+0000",
        "url": "http://twitter.com/jane/statuses/739970001", "domain": "twitter.com", "pageType": "twitter",
        "title": "Jane on Twitter", "snippet": "my acme phone died", "fullText": "my acme phone died again, thanks acme",
        "author": "jane", "fullname": "Jane Doe", "language": "en", "countryCode": "GB", "sentiment": "negative",
        "twitterFollowers": 5400, "impact": 42, "reachEstimate": 1200,
    }
    draft = normalise(item, vendor="brandwatch")
    assert draft.source_id == "128936212"
    assert draft.text == "my acme phone died again, thanks acme"
    assert draft.created_at == datetime(2016, 6, 7, 2, 4, tzinfo=UTC)
    assert (draft.author, draft.reach, draft.language) == ("jane", 5400, "en")
    assert draft.upstream == Sentiment("negative", -1.0, 1.0, "upstream:brandwatch")


def test_talkwalker_document_maps_epoch_ms_strips_snippet_tags_and_scales_sentiment():
    """A Talkwalker search result ({"data": {...}}) maps published epoch ms, external_id, reach, and sentiment/5."""
    item = {"data": {
        "url": "https://twitter.com/acmefan/status/1", "indexed": 1717236000500, "published": 1717236000000,
        "title": "", "content": "The new <b>Acme</b> update broke everything", "content_snippet": "<b>Acme</b> update",
        "lang": "en", "sentiment": -4, "reach": 2300, "engagement": 12, "source_type": ["SOCIALMEDIA", "SOCIALMEDIA_TWITTER"],
        "extra_author_attributes": {"id": "tw:42", "name": "Acme Fan", "gender": "male"}, "external_id": "1",
        "external_provider": "twitter",
    }}
    draft = normalise(item, vendor="talkwalker")
    assert draft.source_id == "1"
    assert draft.text == "The new Acme update broke everything"
    assert draft.created_at == datetime(2024, 6, 1, 10, 0, tzinfo=UTC)
    assert draft.reach == 2300 and draft.author == "Acme Fan"
    assert draft.upstream == Sentiment("negative", -0.8, 1.0, "upstream:talkwalker")


def test_mention_com_object_maps_description_published_at_and_tone():
    """A Mention.com mention maps id, description, original_url, language_code and tone -1/0/1."""
    item = {
        "id": "3924102894", "alert_id": 1234, "title": "Acme review", "description": "Honestly the acme support was great",
        "original_url": "https://blog.example/acme-review", "clickable_url": "https://blog.example/acme-review",
        "unique_id": "blog.example/acme-review", "published_at": "2024-06-01T10:00:00.0+00:00",
        "created_at": "2024-06-01T10:05:00.0+00:00", "country": "US", "language_code": "en", "source_type": "blogs",
        "source_name": "Example blog", "tone": 1, "folder": "inbox", "read": False, "tags": [],
    }
    draft = normalise(item, vendor="mention")
    assert draft.source_id == "3924102894"
    assert draft.url == "https://blog.example/acme-review"
    assert draft.created_at == datetime(2024, 6, 1, 10, 0, tzinfo=UTC)
    assert draft.upstream == Sentiment("positive", 1.0, 1.0, "upstream:mention")


def test_meltwater_hook_document_maps_content_author_audience_and_unknown_language():
    """A Meltwater data-stream document maps content.text, author.username, metrics.audience; language "zz" is unknown."""
    payload = {"request": {"company_id": "c1", "hook_id": "h1", "inputs": []}, "documents": [{
        "id": "mw-77", "url": "https://x.com/bob/status/77", "created_at": "2024-06-01T10:00:00Z",
        "content": {"title": "", "text": "acme outage again?!"}, "author": {"username": "bob", "display_name": "Bob", "authority": 3},
        "metrics": {"audience": 910, "likes": 3}, "language_code": "zz", "country_code": "us", "sentiment": "Neutral",
    }]}
    (item,) = mentions.split_batch(payload)
    draft = normalise(item, vendor="meltwater")
    assert (draft.source_id, draft.text, draft.author, draft.reach, draft.language) == ("mw-77", "acme outage again?!", "bob", 910, None)
    assert draft.upstream == Sentiment("neutral", 0.0, 1.0, "upstream:meltwater")


def test_generic_item_without_id_is_identified_by_its_url():
    """Tools that strip ids still deduplicate: the URL's hash becomes the source id."""
    first = normalise({"text": "acme", "created_at": "2024-06-01T10:00:00Z", "url": "https://x.com/a/1"}, vendor="generic")
    again = normalise({"text": "acme!", "created_at": "2024-06-01T10:00:00Z", "url": "https://x.com/a/1"}, vendor="generic")
    assert first.source_id == again.source_id and first.source_id.startswith("url:")


@pytest.mark.parametrize(("item", "reason"), [
    ({"text": "acme", "created_at": "2024-06-01T10:00:00Z"}, "no id and no url"),
    ({"id": "1", "created_at": "2024-06-01T10:00:00Z"}, "no text"),
    ({"id": "1", "text": "acme"}, "created_at is missing"),
    ({"id": "1", "text": "acme", "created_at": "yesterday"}, "not an ISO 8601 time"),
    ({"id": "1", "text": "acme", "created_at": "2024-06-01T10:00:00Z", "author_reach": -3}, "not a non-negative number"),
    ({"id": "1", "text": "acme", "created_at": "2024-06-01T10:00:00Z", "sentiment": "furious"}, "sentiment"),
    ("just a string", "not an object"),
])
def test_invalid_generic_items_are_rejected_with_a_reason(item, reason):
    """Each kind of bad item gets its own readable reason."""
    with pytest.raises(Rejected, match=reason):
        normalise(item, vendor="generic")


def test_vendor_sentiment_outside_its_scale_is_rejected():
    """A Talkwalker sentiment of 9 is not on the -5..5 scale."""
    with pytest.raises(Rejected, match="-5..5"):
        normalise({"url": "https://x/1", "content": "acme", "published": 1717236000000, "sentiment": 9}, vendor="talkwalker")


def test_split_batch_accepts_object_list_and_vendor_envelopes():
    """One object, a list, {"mentions"}, Brandwatch {"results"}, Talkwalker result_content and stream chunks all split."""
    item = {"id": "1"}
    assert mentions.split_batch(item) == [item]
    assert mentions.split_batch([item, item]) == [item, item]
    assert mentions.split_batch({"mentions": [item]}) == [item]
    assert mentions.split_batch({"resultsTotal": 1, "results": [item]}) == [item]
    assert mentions.split_batch({"status_code": "0", "result_content": {"data": [item]}}) == [item]
    assert mentions.split_batch({"chunk_type": "CT_RESULT", "chunk_result": {"data": item}}) == [item]
    with pytest.raises(Rejected, match="expected a mention object"):
        mentions.split_batch(42)


def test_keywords_match_whole_words_case_insensitively_and_inside_hashtags():
    """"acme" finds "ACME" and "#acme" but not "acmeville"; hashtags need their '#'."""
    matcher = TopicMatcher([OTHER, ACME])
    assert matcher.match("Why is ACME down") == ACME
    assert matcher.match("#acme is down") == ACME
    assert matcher.match("visiting acmeville") is None
    assert matcher.match("total #AcmeFail today") == ACME
    assert matcher.match("globex and acme") == ACME  # first topic by id wins
    assert matcher.match("nothing here") is None


def test_choose_prefers_named_topic_then_keywords_then_default():
    """An item naming its topic wins; otherwise keywords decide; the source default catches the rest."""
    matcher = TopicMatcher([ACME, OTHER])
    draft = Draft(source_id="1", text="globex news", created_at=NOW)
    assert matcher.choose(Draft(source_id="1", text="globex", created_at=NOW, topic_name="ACME")) == ACME
    assert matcher.choose(draft) == OTHER
    assert matcher.choose(Draft(source_id="1", text="unrelated", created_at=NOW), default_topic_id=1) == ACME
    with pytest.raises(Rejected, match="matches no topic"):
        matcher.choose(Draft(source_id="1", text="unrelated", created_at=NOW))


def test_parse_terms_splits_keywords_and_hashtags():
    """Admins type "acme, #acmefail; acme phone"."""
    assert mentions.parse_terms("acme, #acmefail; acme phone") == (("acme", "acme phone"), ("acmefail",))


def test_minute_buckets_count_negative_and_reach_weighted_negative():
    """Counts land in the UTC minute of created_at; negative ones add their reach weight."""
    def mention(source_id: str, at: datetime, label: str, reach: int | None) -> Mention:
        return Mention("s", source_id, 1, "t", None, reach, None, None, at, NOW, Sentiment(label, 0.0, 1.0, "x"))  # type: ignore[arg-type]

    counts = count_by_minute([
        mention("1", NOW, "negative", None), mention("2", NOW + timedelta(seconds=10), "negative", 1000),
        mention("3", NOW, "positive", 10**6), mention("4", NOW + timedelta(minutes=1), "neutral", None),
    ])
    here = counts[(1, minute_of(NOW))]
    assert (here.total, here.negative, here.reach_negative) == (3, 2, 1.0 + 3.0)
    assert counts[(1, minute_of(NOW) + timedelta(minutes=1))].total == 1


def test_reach_weight_is_one_when_unknown_and_grows_logarithmically():
    """Unknown reach weighs like one mention (as the detector's Bucket expects); a million followers weigh 6."""
    assert reach_weight(None) == 1.0 == reach_weight(0) == reach_weight(9)
    assert reach_weight(10**6) == pytest.approx(6.0)


def test_parse_time_handles_iso_offsets_epoch_seconds_and_milliseconds():
    """"+0000" offsets, Z, naive (as UTC), epoch seconds and ms all become aware UTC."""
    expected = datetime(2024, 6, 1, 10, 0, tzinfo=UTC)
    for value in ("2024-06-01T10:00:00.000+0000", "2024-06-01T12:00:00+02:00", "2024-06-01 10:00:00", 1717236000, 1717236000000, "1717236000"):
        assert mentions.parse_time(value, field_name="t") == expected


def test_ingest_counts_accepted_duplicate_and_rejected_in_a_mixed_batch():
    """A batch mixing valid, invalid, repeated and off-topic items answers with each count and reason."""
    store = MemoryStore()
    source = Source(id=1, name="tool", vendor="generic", workspace_id="T1", token_hash="")
    items = [
        {"id": "a", "text": "acme is broken", "created_at": "2026-03-02T12:00:00Z"},
        {"id": "b", "text": "globex rocks", "created_at": "2026-03-02T12:00:00Z", "sentiment": "positive"},
        {"id": "a", "text": "acme is broken", "created_at": "2026-03-02T12:00:00Z"},
        {"id": "c", "text": "nothing relevant", "created_at": "2026-03-02T12:00:00Z"},
        {"id": "d", "text": "acme"},
    ]
    result = mentions.ingest(store, items, source=source, analyser=FixedAnalyser(), now=NOW)
    assert (result.accepted, result.duplicate, result.rejected) == (2, 1, 2)
    assert [(r.index, r.source_id) for r in result.rejections] == [(3, "c"), (4, "d")]
    # Stored under the source's name and workspace: another workspace's "tool" may deliver the same ids.
    assert store.rows[("tool@T1", "a")].sentiment.analyser == "fixed"
    assert store.rows[("tool@T1", "b")].sentiment.analyser == "upstream:generic"
    again = mentions.ingest(store, items, source=source, analyser=FixedAnalyser(), now=NOW)
    assert (again.accepted, again.duplicate) == (0, 3)


def test_created_in_the_future_is_clamped_to_received_time():
    """A source clock running ahead cannot put counts into minutes that have not happened."""
    draft = Draft(source_id="1", text="acme", created_at=NOW + timedelta(hours=2))
    assert mentions.to_mention(draft, source="s", topic_id=1, analyser=FixedAnalyser(), now=NOW).created_at == NOW


def test_token_lookup_finds_the_right_source_and_refuses_others():
    """Tokens are compared by hash against every source; a wrong token finds none."""
    token = mentions.new_token()
    sources = [Source(id=i, name=f"s{i}", vendor="generic", workspace_id="T1", token_hash=mentions.hash_token(t))
               for i, t in enumerate(["other-token", token])]
    assert mentions.source_for_token(sources, token) == sources[1]
    assert mentions.source_for_token(sources, token + "x") is None
    assert token not in sources[1].token_hash


def test_slack_bot_message_with_unfurl_becomes_a_draft_keyed_by_channel_and_ts():
    """A listening tool's bot post: text, attachment title/text/fields and link all feed the draft."""
    message = {
        "type": "message", "subtype": "bot_message", "bot_id": "B1", "username": "KWatch", "ts": "1717236000.000200",
        "text": "New mention for Acme",
        "attachments": [{"title": "@jane: acme phone exploded", "title_link": "https://x.com/jane/status/5",
                         "text": "seriously dangerous", "fields": [{"title": "Followers", "value": "12000"}]}],
    }
    draft = mentions.draft_from_slack_message(message, channel_id="C1")
    assert draft.source_id == "C1:1717236000.000200"
    assert "acme phone exploded" in draft.text and "seriously dangerous" in draft.text
    assert draft.url == "https://x.com/jane/status/5" and draft.author == "KWatch"
    assert draft.created_at == datetime(2024, 6, 1, 10, 0, 0, 200, tzinfo=UTC)


def test_export_rows_recognise_vendor_columns():
    """Brandwatch-style export columns ("Resource Id", "Full Text", "Date", "Sentiment") map like the API fields."""
    row = {"Query Name": "Acme", "Date": "2024-06-01 10:00:00.0", "Full Text": "acme is slow", "Url": "https://x/1",
           "Sentiment": "Negative", "Resource Id": "991", "Author": "jane", "Twitter Followers": "300", "Language": "en"}
    draft = mentions.normalise_export_row(row, vendor="brandwatch")
    assert (draft.source_id, draft.text, draft.reach, draft.author) == ("991", "acme is slow", 300, "jane")
    assert draft.upstream is not None and draft.upstream.label == "negative"
    assert mentions.normalise_export_row({"Document ID": "7", "Headline": "acme", "Date": "01-Jun-2024 10:00AM"}, vendor="meltwater").created_at == datetime(2024, 6, 1, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize("count", [1, 49, 50, 51, 299, 300, 301, 350, 500, 601, 1000])
def test_chunk_bounds_cover_the_batch_in_order_with_a_short_last_chunk(count):
    bounds = mentions.chunk_bounds(count)
    assert [i for start, end in bounds for i in range(start, end)] == list(range(count))
    assert all(0 < end - start <= mentions.INGEST_CHUNK for start, end in bounds)
    assert bounds[-1][1] - bounds[-1][0] <= mentions.INGEST_TAIL


def test_a_batch_of_500_is_written_as_300_150_50():
    assert mentions.chunk_bounds(500) == [(0, 300), (300, 450), (450, 500)]
