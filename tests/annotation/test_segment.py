from hypothesis import given, settings
from hypothesis import strategies as st

from stance.annotation.segment import segment


def texts(document: str) -> list[str]:
    return [s.text for s in segment(document)]


def test_spans_are_exact_and_ordered():
    doc = "Headline Without Stop\n\nFirst sentence here. Second one follows!\n"
    spans = segment(doc)
    assert [s.text for s in spans] == ["Headline Without Stop", "First sentence here.", "Second one follows!"]
    for s in spans:
        assert doc[s.start : s.end] == s.text
    assert all(a.end <= b.start for a, b in zip(spans, spans[1:]))


def test_abbreviations_do_not_split():
    doc = "Dr. Smith met U.S. officials in Riyadh on Monday. They talked about peacekeepers."
    assert texts(doc) == [
        "Dr. Smith met U.S. officials in Riyadh on Monday.",
        "They talked about peacekeepers.",
    ]


def test_quotations_stay_whole_straight_and_curly():
    straight = '"We see no room for compromise. They are hostile," Lavrov said. Then he left.'
    curly = "Trump said, “Yeah, he will accept that. He has no problem with it.” Others doubted it."
    assert texts(straight) == ['"We see no room for compromise. They are hostile," Lavrov said.', "Then he left."]
    assert texts(curly) == [
        "Trump said, “Yeah, he will accept that. He has no problem with it.”",
        "Others doubted it.",
    ]


def test_closing_quote_stays_with_its_sentence():
    doc = '"This takes on a different meaning", he said. "We\'re monitoring this very closely."'
    assert texts(doc) == ['"This takes on a different meaning", he said.', '"We\'re monitoring this very closely."']


def test_headlines_are_statements_and_markdown_heading_marks_are_dropped():
    doc = "# Kremlin Doubles Down\n\nRussia Reaffirms Its Stance\nThe Kremlin spoke."
    assert texts(doc) == ["Kremlin Doubles Down", "Russia Reaffirms Its Stance", "The Kremlin spoke."]


def test_boilerplate_is_skipped():
    doc = (
        "World\n\nAugust 27, 2025\n\n date 2025-02-20 WORLD\n-\n"
        "Russia rejects the plan.\n\n*AFP contributed reporting.*\n\nOriginal url:\n\n"
        "<https://example.org/a>\n\n**Related article:** [Another story.](#)\n"
        "Read more: Le Pen rejects plan: Politico\nLeave A Comment\nLive Tv\nNewsletter\n"
        "Subscribe to our newsletter to stay.\nBy John Smith\n"
    )
    assert texts(doc) == ["Russia rejects the plan."]


def test_photo_credits_and_short_captions():
    doc = (
        "Kremlin spokesman Dmitry Peskov. [kremlin.ru](http://kremlin.ru)\n\n"
        "Lavrov speaks during a joint news conference in Moscow on Thursday. (AP Photo/Pavel Bednyakov, Pool)\n"
        'Peskov said a UK proposal is "unacceptable."\u00a0 / Photo: Reuters\n'
    )
    assert texts(doc) == [
        "Lavrov speaks during a joint news conference in Moscow on Thursday.",
        'Peskov said a UK proposal is "unacceptable."',
    ]


def test_sentence_broken_by_a_blank_line_is_rejoined():
    doc = "Yermak told the newspaper that discussions\n\nincluded four to five European brigades.\n"
    [span] = segment(doc)
    assert span.text == "Yermak told the newspaper that discussions\n\nincluded four to five European brigades."
    assert doc[span.start : span.end] == span.text


def test_unbalanced_quote_does_not_swallow_the_paragraph():
    doc = "“This quote runs on into the next paragraph. It does not close here. Neither here."
    assert len(segment(doc)) == 3


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=300))
def test_any_text_gives_exact_non_overlapping_spans(doc):
    spans = segment(doc)
    for s in spans:
        assert s.text and doc[s.start : s.end] == s.text
        assert s.text == s.text.strip()
    assert all(a.end <= b.start for a, b in zip(spans, spans[1:]))
