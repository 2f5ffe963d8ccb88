"""Holder attribution (who holds a statement's stance), the matching rule and the accuracy of
predicted holders. Every sentence here is invented for the test."""

import math

import pytest

from stance.annotation.holder_match import accuracy, matches, name_tokens
from stance.annotation.holders import AUTHOR, Attribution, attribute, holder


# ----------------------------------------------------------------------------- one cue of each kind
@pytest.mark.parametrize("text, expected, kind, cue", [
    # reported speech, before and after the quote, with and without a title
    ("Sweden said on Tuesday it was ready to contribute troops.", "Sweden", "organisation", "speech"),
    ('"We will not leave Ukraine alone," Prime Minister Ulf Kristersson told reporters.', "Ulf Kristersson",
     "named", "speech"),
    ('"Never," said Dmitry Peskov.', "Dmitry Peskov", "named", "speech"),
    ("Kremlin spokesman Dmitry Peskov said the idea was unacceptable.", "Dmitry Peskov", "named", "speech"),
    ("French President Emmanuel Macron has previously said troops could not be ruled out.", "Emmanuel Macron",
     "named", "speech"),
    ("Healey told parliament that a brigade was on standby.", "Healey", "named", "speech"),
    # an appositive between the speaker and the verb, and the name inside commas
    ("Sergei Lavrov, the foreign minister, said the plan was unacceptable.", "Sergei Lavrov", "named", "speech"),
    ("Russia's ambassador in London, Andrei Petrov, warned that the soldiers would be targets.", "Andrei Petrov",
     "named", "speech"),
    # "according to"
    ("Troops are a threat, according to the Kremlin.", "Kremlin", "organisation", "according to"),
    ("According to government officials, the brigade could deploy within weeks.", "government officials",
     "role", "according to"),
    ("Finland has not decided, according to the Finnish defence ministry.", "Finnish defence ministry",
     "organisation", "according to"),
    # roles
    ("A senior EU official said the mission could start in the spring.", "senior EU official", "role", "speech"),
    ('"We cannot send soldiers into a war zone," said one of the party\'s MPs.', "one of the party's MPs",
     "role", "speech"),
    ("Western diplomats warned that the force lacked a mandate.", "Western diplomats", "role", "speech"),
    ("A source familiar with Kremlin thinking said Moscow would never accept it.",
     "source familiar with Kremlin thinking", "role", "speech"),
    # organisations, and places standing for their government
    ("NATO says it has no plans to send troops.", "NATO", "organisation", "speech"),
    ("The Kremlin warned that any foreign troops would be legitimate targets.", "Kremlin", "organisation", "speech"),
    ("Moscow has repeatedly rejected the idea of European peacekeepers.", "Russia", "organisation", "stance"),
    ("Paris and London agree to lead a European mission.", "France and UK", "organisation", "stance"),
    # a stance verb, an adjective after a copula, a possessive, a headline
    ("Poland is ready to host the force's headquarters.", "Poland", "organisation", "stance"),
    ("Starmer is planning to present a plan for 30,000 troops.", "Starmer", "named", "stance"),
    ("Russia's opposition to foreign peacekeepers hardened this week.", "Russia", "organisation", "possessive"),
    ("Kremlin Rejects Plan for European Troops in Ukraine", "Kremlin", "organisation", "stance"),
    ("UK to deploy troops in Ukraine", "UK", "organisation", "stance"),
    ("Zelensky: Allied Boots Must Be Part of Any Deal", "Zelensky", "named", "speech"),
    ("Any plan to send troops is 'unacceptable': Russia", "Russia", "organisation", "speech"),
    # a participle takes the main clause's subject
    ("Meanwhile, the United States weighed in, emphasizing that any operation needs consent.", "United States",
     "organisation", "stance"),
])
def test_each_cue_finds_its_holder(text, expected, kind, cue):
    found = attribute(text)
    assert (found.holder, found.kind, found.cue) == (expected, kind, cue)
    assert found.start is not None and 0 <= found.start < found.end <= len(text)
    assert holder(text) == expected


def test_the_cue_span_covers_the_holder_and_its_verb():
    text = "On Monday, Sweden said it was ready."
    found = attribute(text)
    assert text[found.start : found.end] == "Sweden said"


@pytest.mark.parametrize("text", [
    "Talks on a ceasefire are expected to resume in Geneva next week.",
    "The proposal includes a demilitarised zone patrolled by peacekeepers.",
    "It remains unclear whether Moscow would agree to such a force.",  # a position asked about is not held
    "Will Europe Really Send Troops? Questions Over the Security Plan",
    "Many questions remain about the size of the force.",
])
def test_no_reported_holder_is_the_author(text):
    assert attribute(text) == AUTHOR and holder(text) == "author"


def test_words_inside_a_quote_are_never_cues():
    found = attribute('"Russia rejects this, and Poland said so," the analyst wrote.')
    assert found.holder == "analyst" and found.kind == "role"


# ----------------------------------------------------------------------------- pronouns and context
def test_a_pronoun_is_resolved_from_the_context():
    context = "Kremlin spokesman Dmitry Peskov spoke to reporters on Tuesday. The talks went on."
    found = attribute('"It is a provocation," he said.', context)
    assert (found.holder, found.kind, found.cue) == ("Dmitry Peskov", "named", "speech")
    assert attribute('"It is a provocation," he said.', ["Sergei Lavrov arrived in Riyadh."]).holder == "Sergei Lavrov"


def test_she_skips_an_organisation_and_it_takes_one():
    context = ["Maria Zakharova spoke first.", "The Kremlin warned of escalation."]
    assert attribute("She said the plan was dangerous.", context).holder == "Maria Zakharova"
    assert attribute("It said the plan was dangerous.", context).holder == "Kremlin"


def test_an_unresolved_pronoun_says_so():
    found = attribute("He said the plan was dangerous.")
    assert (found.holder, found.kind) == ("he", "pronoun")


def test_a_quote_without_a_cue_continues_the_previous_speaker():
    context = '"We view such discussions negatively," Kremlin spokesman Dmitry Peskov told reporters.'
    found = attribute('"We are monitoring this very closely."', context)
    assert (found.holder, found.cue) == ("Dmitry Peskov", "quote")
    assert attribute('"We are monitoring this very closely."') == AUTHOR  # no context, no speaker


def test_the_role_is_named_from_the_context():
    context = "French President Emmanuel Macron met Keir Starmer in London."
    assert attribute("The French president told reporters troops were an option.", context).holder == "Emmanuel Macron"
    assert attribute("The French president told reporters troops were an option.").holder == "French president"


# ----------------------------------------------------------------------------- several holders
def test_several_speakers_the_first_main_one_and_the_others():
    found = attribute("Macron said Europe was ready, while Lavrov warned that troops would be targets.")
    assert found.holder == "Macron" and "Lavrov" in found.others


def test_an_anonymous_source_reports_the_subject_of_the_sentence():
    found = attribute("British defence chiefs have drawn up options for a force, officials said.")
    assert found.holder == "British defence chiefs" and found.cue == "subject" and "officials" in found.others


def test_a_speaker_named_before_a_subordinate_clause():
    found = attribute("In what critics called a gamble, Macron reaffirmed that French soldiers would take part.")
    assert found.holder == "Macron"


# ----------------------------------------------------------------------------- matching and accuracy
@pytest.mark.parametrize("predicted, gold, expected", [
    ("Healey", "John Healey (UK Defence Secretary)", True),
    ("UK", "John Healey (UK Defence Secretary)", False),  # the description in parentheses is not the name
    ("author", "author", True),
    ("Author", "author", True),
    ("author", "Kremlin", False),
    ("Kremlin", "author", False),
    ("Sergei Lavrov", "Sergey Lavrov", True),
    ("Poland", "Polish government", True),
    ("Russia", "Moscow", True),
    ("senior EU official", "EU officials", True),
    ("general", "retired general", True),
    ("government officials", "diplomats", False),
    ("Dmitry Peskov", "Kremlin", False),
    ("Péter Szijjártó", "Peter Szijjarto", True),
])
def test_matching_rule(predicted, gold, expected):
    assert matches(predicted, gold) is expected


def test_name_tokens_drop_titles_and_read_demonyms_as_countries():
    assert name_tokens("Russian Foreign Minister Sergey Lavrov") == {"russia", "sergey", "lavrov"}
    assert name_tokens("the Kremlin's spokesman") == {"kremlin"}


def test_accuracy_and_its_bootstrap_interval():
    predicted, gold = ["Healey", "author", "Kremlin", "author"], ["John Healey", "author", "Russia", "Putin"]
    value, low, high = accuracy(predicted, gold, n_resamples=200, seed=1)
    assert value == 0.5 and 0.0 <= low <= value <= high <= 1.0
    assert accuracy(predicted, gold, n_resamples=200, seed=1) == (value, low, high)  # seeded
    grouped = accuracy(predicted, gold, groups=["a", "a", "b", "b"], n_resamples=200, seed=1)
    assert grouped[0] == 0.5 and {round(grouped[1], 6), round(grouped[2], 6)} <= {0.0, 0.5, 1.0}
    assert accuracy(["x"] * 3, ["x"] * 3) == (1.0, 1.0, 1.0)
    assert all(math.isnan(v) for v in accuracy([], []))
    with pytest.raises(ValueError, match="2 predicted holders for 1 gold ones"):
        accuracy(["a", "b"], ["a"])


def test_attribution_is_a_plain_value():
    found = attribute("NATO says it has no plans.")
    assert isinstance(found, Attribution) and found == attribute("NATO says it has no plans.")
