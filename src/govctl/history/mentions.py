"""Which record versions of a stretch of history may spell which words: every blob read
once, for many questions.

A timeline asks, for each record version a commit changed, whether it may hold a record
of its use case (``loader.may_hold`` with the use case's kinds and ids). An audit pack of
2,000 use cases asked that of every blob of the history once per use case: minutes per
hundred use cases at 5,000 commits. This index answers the same question, with the same
answer, by set lookups.

A word ``loader.may_hold`` can look for is made of letters, digits and ``._/:@+-`` only
(``loader.spellings``), so wherever it is written literally it lies inside one run of
those bytes. Each blob is split into its runs once; a word's blobs are those with a run
that contains it. A blob holding a backslash may spell anything (a double-quoted escape),
as ``may_hold`` says; a blob over the size limit is not read and holds nothing.
"""

from __future__ import annotations

import bisect
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from govctl.history.git import BlobChoice, Commit, GitHistory, GitTreeSource
from govctl.model.loader import LITERAL_RUN, may_hold, spellings
from govctl.model.repository import NAMING, RECORD_SUFFIXES, Holds, SourceFile, Words

_ANSWERS_KEPT = 8


@dataclass(frozen=True)
class Span:
    """A stretch of history that many timelines walk (an audit pack's, one per use case):
    its commits, their record versions by what they spell, and the commits that change
    each blob and each path — a timeline visits those that may matter to it, not all."""

    commits: Sequence[Commit]
    mentions: MentionIndex
    by_blob: Mapping[str, list[int]]  # blob → positions of the commits with it on a side
    by_path: Mapping[str, list[int]]  # changed path (the new one, or the removed one) → same

    def positions(self, blobs: Iterable[str], paths: Iterable[str]) -> list[int]:
        """Positions, in order, of the commits changing one of ``blobs`` or ``paths``."""
        found = {p for blob in blobs for p in self.by_blob.get(blob, ())}
        found.update(p for path in paths for p in self.by_path.get(path, ()))
        return sorted(found)


def span_of(history: GitHistory, commits: Sequence[Commit]) -> Span:
    by_blob: dict[str, list[int]] = {}
    by_path: dict[str, list[int]] = {}
    for position, commit in enumerate(commits):
        for change in commit.changes:
            for blob in (change.old_blob, change.new_blob):
                if blob is not None:
                    _add(by_blob, blob, position)
            _add(by_path, change.new_path or change.old_path, position)
    return Span(commits, mention_index(history, commits), by_blob, by_path)


def _add(positions: dict[str, list[int]], key: str, position: int) -> None:
    found = positions.setdefault(key, [])
    if not found or found[-1] != position:
        found.append(position)


def mention_index(history: GitHistory, commits: Sequence[Commit]) -> MentionIndex:
    """The index of the record versions (both sides of every change) of ``commits``, read
    a batch of commits at a time; they stay in the history's blob cache (bounded by its
    size) for the timelines that ask next."""

    def blobs() -> Iterator[tuple[str, bytes | None]]:
        seen: set[str] = set()
        for commit in history.prefetched(commits, release=False):
            for change in commit.changes:
                for path, blob in ((change.old_path, change.old_blob),
                                   (change.new_path, change.new_blob)):
                    if path is not None and blob is not None and blob not in seen \
                            and path.endswith(RECORD_SUFFIXES):
                        seen.add(blob)
                        yield blob, history.small_blob(blob)

    return MentionIndex(blobs())


class MentionIndex:
    """Blobs by what they spell: ``(blob id, content)`` pairs, None for a blob over the size
    limit (not read: it spells nothing); a blob met again is not read again."""

    def __init__(self, blobs: Iterable[tuple[str, bytes | None]]) -> None:
        self._readable: set[str] = set()  # every blob read (not over the size limit)
        self._escaped: set[str] = set()  # blobs holding a backslash: may spell anything
        self._unread: set[str] = set()  # over the size limit: never read, spell nothing
        blobs_of_run: dict[bytes, list[str]] = {}
        for blob, raw in blobs:
            if blob in self._readable or blob in self._unread:
                continue
            if raw is None:
                self._unread.add(blob)
                continue
            self._readable.add(blob)
            if b"\\" in raw:
                self._escaped.add(blob)
            for run in set(LITERAL_RUN.findall(raw)):
                blobs_of_run.setdefault(run, []).append(blob)
        runs = list(blobs_of_run)
        # every run in one text, one line each: a word's runs are found by one search of
        # it (in C) instead of a test of each run
        self._text = b"\n".join(runs)
        self._starts = [0]
        for run in runs[:-1]:
            self._starts.append(self._starts[-1] + len(run) + 1)
        self._postings = list(blobs_of_run.values())
        self._word_blobs: dict[bytes, frozenset[str]] = {}
        self._alternatives: dict[tuple[bytes, ...], frozenset[str]] = {}
        # the last few answers: a walk asks with the same words until they grow, a partial
        # load with its words and the record suffixes in turn
        self._answers: dict[Collection[str | tuple[str, ...]], frozenset[str]] = {}

    def knows(self, blob: str) -> bool:
        """Whether the blob was indexed (a blob of another commit was not)."""
        return blob in self._readable or blob in self._unread

    def may_hold(self, blob: str, words: Collection[str | tuple[str, ...]]) -> bool:
        """``loader.may_hold`` of an indexed blob's content (``words`` hashable, as there)."""
        return blob in self.holding(words)

    def holding(self, words: Collection[str | tuple[str, ...]]) -> frozenset[str]:
        """The indexed blobs that may hold one of ``words``."""
        found = self._answers.get(words)
        if found is not None:
            return found
        spelled = spellings(words)
        if spelled is None:
            found = frozenset(self._readable)  # a word YAML can write otherwise
        else:
            holding = set(self._escaped)
            for alternative in spelled:
                holding |= self._holding_all(alternative)
            found = frozenset(holding)
        if len(self._answers) >= _ANSWERS_KEPT:
            del self._answers[next(iter(self._answers))]
        self._answers[words] = found
        return found

    def _holding_all(self, alternative: tuple[bytes, ...]) -> frozenset[str]:
        """The read blobs holding every word of ``alternative`` (kept: the timelines of a
        pack ask of the records they share, a model or a team, again and again)."""
        found = self._alternatives.get(alternative)
        if found is None:
            each = sorted((self._blobs_with(word) for word in alternative), key=len)
            if not each:
                found = frozenset(self._readable)  # no words: held anywhere (as may_hold)
            else:
                rest = each[1:]
                found = frozenset(blob for blob in each[0] if all(blob in s for s in rest))
            self._alternatives[alternative] = found
        return found

    def wanted(self, words: Words) -> BlobChoice:
        """For ``GitTreeSource.record_files``: what a partial load reads — every blob but
        the indexed ones that can neither hold one of ``words`` nor name a record file."""
        return BlobChoice((self.holding(words), self.holding(NAMING)), self.knows)

    def reads_more(self, source: GitTreeSource, words: Words, more: Words) -> bool:
        """Whether a partial load of ``source`` (``wanted``, ``holds_in``) may keep records
        for ``more`` that it does not keep for ``words``: False only when every record file
        of the tree is one the index read and each blob that may hold ``more`` may hold
        ``words`` (then the same files, judged alike: the same repository)."""
        return not (source.judged_by(self.knows)
                    and self.holding(more) <= self.holding(words))

    def holds_in(self, source: GitTreeSource) -> Holds:
        """``load_repository``'s ``holds`` for the files of a tree: the index's answer for
        the regular files it indexed, ``loader.may_hold`` of the bytes for the others."""

        def holds(file: SourceFile, words: Words) -> bool:
            entry = source.entries.get(file.path)
            if entry is not None and entry[0].startswith("100") and self.knows(entry[1]):
                return self.may_hold(entry[1], words)
            return file.raw is not None and may_hold(file.raw, words)

        return holds

    def _blobs_with(self, word: bytes) -> frozenset[str]:
        found = self._word_blobs.get(word)
        if found is not None:
            return found
        if not word:
            found = frozenset(self._readable)  # the empty word is in every blob
        else:
            blobs: set[str] = set()
            text, starts = self._text, self._starts
            position = text.find(word)
            while position >= 0:
                run = bisect.bisect_right(starts, position) - 1
                blobs.update(self._postings[run])
                following = run + 1  # the run holds the word: on to the next run
                if following == len(starts):
                    break
                position = text.find(word, starts[following])
            found = frozenset(blobs)
        self._word_blobs[word] = found
        return found
