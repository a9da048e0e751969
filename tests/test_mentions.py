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


def test_a_partial_load_of_a_tree_lists_the_files_the_choice_reads(tmp_path) -> None:
    # GitTreeSource finds the chosen files from the blobs; the answer must be the plain
    # test of every path: a blob in the choice (at two paths), a blob the index never
    # read (always read), a symlink (always read) and a blob ruled out
    import os
    from pathlib import Path

    from govctl.history.git import BlobChoice, GitHistory, GitTreeSource
    from tests.conftest import commit_all, init_git

    root = tmp_path / "repo"
    (root / "a").mkdir(parents=True)
    for name, text in {"a/held.yaml": "x: 1\n", "a/copy.yaml": "x: 1\n",
                       "a/unknown.yaml": "y: 2\n", "a/out.yaml": "z: 3\n",
                       "a/notes.md": "x: 1\n"}.items():
        (root / name).write_text(text)
    os.symlink("held.yaml", root / "a" / "link.yaml")
    init_git(root)
    commit_all(root, "files")
    with GitHistory(Path(root)) as history:
        source = GitTreeSource(history, history.resolve("HEAD"))
        blob = {path: entry[1] for path, entry in source.entries.items()}
        indexed = {blob["a/held.yaml"], blob["a/out.yaml"]}
        choice = BlobChoice((frozenset({blob["a/held.yaml"]}), frozenset()),
                            indexed.__contains__)
        chosen = [f.path for f in source.record_files(None, choice)]
        everything = [f.path for f in source.record_files(None)]
    assert chosen == ["a/copy.yaml", "a/held.yaml", "a/link.yaml", "a/unknown.yaml"]
    assert everything == ["a/copy.yaml", "a/held.yaml", "a/link.yaml", "a/out.yaml",
                          "a/unknown.yaml"]


def test_a_tree_derived_from_another_is_the_tree_git_reads(tmp_path) -> None:
    # GitTreeSource.after() applies tree_changes() to a tree and what was derived from it
    # (record paths, files by blob): the next tree must be exactly ls-tree's, and a
    # partial load must choose the same files from it as from the tree read afresh
    import os
    import shutil
    from pathlib import Path

    from govctl.history.git import BlobChoice, GitHistory, GitTreeSource
    from tests.conftest import commit_all, init_git

    root = tmp_path / "repo"
    (root / "a").mkdir(parents=True)
    (root / "a" / "one.yaml").write_text("x: 1\n")
    (root / "a" / "two.yaml").write_text("x: 1\n")  # the same blob at two paths
    (root / "a" / "gone.yaml").write_text("y: 1\n")
    (root / "a" / "turned.yaml").write_text("z: 1\n")
    (root / "a" / "unread.yaml").write_text("w: 1\n")  # a blob the index never read
    init_git(root)
    first = commit_all(root, "first")
    (root / "a" / "two.yaml").write_text("x: 2\n")  # edited
    (root / "a" / "gone.yaml").unlink()  # removed
    (root / "a" / "unread.yaml").unlink()
    (root / "a" / "turned.yaml").unlink()
    os.symlink("one.yaml", root / "a" / "turned.yaml")  # a file turned into a symlink
    (root / "b").mkdir()
    shutil.copy(root / "a" / "one.yaml", root / "b" / "new.yaml")  # added, a known blob
    (root / "b" / ".hidden.yaml").write_text("x: 1\n")  # never a record file
    commit_all(root, "second")
    with GitHistory(Path(root)) as history:
        old_sha, new_sha = history.resolve(first), history.resolve("HEAD")
        old = GitTreeSource(history, old_sha)
        x1 = old.entries["a/one.yaml"][1]
        knows = {x1, old.entries["a/gone.yaml"][1]}.__contains__
        choice = BlobChoice((frozenset({x1}),), knows)
        assert [f.path for f in old.record_files(None, choice)] == [
            "a/one.yaml", "a/turned.yaml", "a/two.yaml", "a/unread.yaml"]
        derived = old.after(new_sha, history.tree_changes(old_sha, new_sha))
        fresh = GitTreeSource(history, new_sha)
        assert derived.entries == fresh.entries
        assert [f.path for f in derived.record_files(None, choice)] == \
            [f.path for f in fresh.record_files(None, choice)] == \
            ["a/one.yaml", "a/turned.yaml", "a/two.yaml", "b/new.yaml"]
        assert [f.path for f in derived.record_files(None)] == \
            [f.path for f in fresh.record_files(None)]
