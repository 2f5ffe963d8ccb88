import pytest

from stance.text import prepare, split_hashtag, split_hashtags


@pytest.mark.parametrize("tag, words", [
    ("BlackLivesMatter", "Black Lives Matter"),
    ("USArmy", "US Army"),
    ("G7summit", "G 7 summit"),
    ("NATO", "NATO"),
    ("stop_the_war", "stop the war"),
    ("ÜberTruppen", "Über Truppen"),
    ("peace", "peace"),
    ("2025", "2025"),
    ("__", "__"),
])
def test_a_hashtag_splits_into_its_words(tag, words):
    assert split_hashtag(tag) == words


def test_only_hashtags_change_and_nothing_is_lost():
    assert split_hashtags("Paris backs #BootsOnTheGround, not #NATO.") == "Paris backs Boots On The Ground, not NATO."
    assert split_hashtags("C# is not a hashtag; a#b neither") == "C# is not a hashtag; a#b neither"
    assert split_hashtags("no tags at all") == "no tags at all"


def test_prepare_leaves_texts_alone_unless_asked():
    texts = ["#StopTheWar now"]
    assert prepare(texts) == texts
    assert prepare(texts, hashtags=True) == ["Stop The War now"]
