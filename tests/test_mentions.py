"""The mention index answers exactly what ``loader.may_hold`` answers of each blob's bytes
(an audit pack's timelines and partial loads skip by it: a blob it wrongly said cannot
hold a record would drop that record's history from the pack)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from govctl.history.mentions import MentionIndex
from govctl.model.loader import may_hold

# literal characters, the ones YAML can write otherwise, a backslash and non-ASCII bytes
_ALPHABET = "ab1-._:/@+ \n'\"\\é{}"
_WORD_ALPHABET = "ab1-._:/@+ '"

blob_contents = st.text(_ALPHABET, max_size=40).map(lambda text: text.encode("utf-8"))
words = st.text(_WORD_ALPHABET, max_size=5)
word_sets = st.frozensets(st.one_of(words, st.tuples(words, words), st.tuples()), max_size=5)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.one_of(blob_contents, st.none()), max_size=8), word_sets)
def test_holding_is_may_hold_of_each_blob(contents: list[bytes | None],
                                          wanted: frozenset) -> None:
    blobs = [(f"blob{i}", raw) for i, raw in enumerate(contents)]
    index = MentionIndex(blobs)
    for blob, raw in blobs:
        assert index.knows(blob)
        expected = raw is not None and may_hold(raw, wanted)
        assert index.may_hold(blob, wanted) is expected, (raw, wanted)


def test_a_word_inside_a_longer_run_is_found() -> None:
    """``may_hold`` looks for bytes, not whole words: ``uc-1`` is in ``uc-10``."""
    index = MentionIndex([("a", b"id: uc-10\nkind: UseCase\n"), ("b", b"id: uc-2\n")])
    assert index.holding(frozenset({("UseCase", "uc-1")})) == {"a"}
    assert index.holding(frozenset({("UseCase", "uc-2")})) == set()
    assert index.holding(frozenset({"uc-2"})) == {"b"}


def test_an_escaped_blob_may_hold_anything_and_an_unread_one_nothing() -> None:
    index = MentionIndex([("escaped", b'id: "uc\\x2d1"\n'), ("large", None),
                          ("plain", b"id: other\n")])
    assert index.holding(frozenset({("UseCase", "uc-1")})) == {"escaped"}
    # a word YAML can write otherwise (a space: folded lines) may be in any blob read
    assert index.holding(frozenset({"uc 1"})) == {"escaped", "plain"}
    assert not index.knows("elsewhere")
