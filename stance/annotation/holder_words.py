"""The word lists of holder attribution (:mod:`stance.annotation.holders`): cue verbs, roles,
institutions, countries and their capitals, titles. Plain data; English news register."""

from __future__ import annotations

import re

_W = str.split
SPEECH = set(_W(
    "said says say told tells warned warns stated added adds argued argues insisted insists claimed "
    "noted stressed declared declares announced announces wrote writes tweeted posted "
    "replied explained explains suggested suggests asserted asserts reiterated reiterates confirmed confirms "
    "denied denies emphasised emphasized emphasises emphasizes cautioned cautions acknowledged admitted "
    "commented remarked observed responded predicted underscored underlined maintained maintains contended "
    "countered asked"))
#: Speech verbs whose speaker may follow them after a quote or comma (", said Peskov").
INVERTED = set(_W("said says added adds wrote writes noted notes explained warned asked continued insisted "
                  "stressed argued"))
STANCE = set(_W(
    "oppose opposes opposed rejects rejected reject supports supported backs backed proposes proposed "
    "plans planned wants wanted favours favors favoured favored welcomes welcomed dismissed dismisses "
    "refused refuses objected objects condemned condemns criticised criticized pledged pledges offered "
    "offers committed vowed vows agreed agrees accepted accepts demanded demands intends intended "
    "reaffirmed reaffirms signalled signaled ruled threatened threatens believes believe thinks sees views "
    "regards described slammed praised endorsed endorses advocated advocates floated "
    "expressed voiced doubts doubted questioned ready willing prepared unwilling reluctant keen eager open "
    "opposed send deploy contribute station planning considering preparing proposing pushing offering "
    "opposing rejecting supporting backing cast contradicted downplayed reacted agree unveils unveiled urges urged "
    "calls called accused accuses denounced denounces ridiculed mocked derided slams declined declines repeated "
    "repeats rules vows brushes dismiss reject offer pledge back welcome signals floats mocks derides "
    "rallied protested question argue warn press believe doubt"))
#: Adjectives that are a stance only after a copula ("is ready to", "remains opposed").
ADJ = set(_W("ready willing prepared unwilling reluctant keen eager open"))
COPULA = set(_W("is are was were remains remain remained be been appears appear seemed seems"))
#: Anonymous sources: "..., officials said" reports the main clause's subject (when it has one).
ANON = set(_W("official officials source sources people person diplomats diplomat"))
#: Participles after a comma whose subject is the main clause's (", saying ...", ", reaffirming ...").
PARTICIPLES = set(_W(
    "saying stating noting adding arguing insisting warning calling reaffirming reiterating emphasizing "
    "emphasising stressing highlighting describing urging claiming suggesting dismissing rejecting"))
SKIP = set(_W(
    "has have had is are was were will would could should may might can also previously earlier again "
    "repeatedly reportedly once then later recently publicly already firmly strongly still now not never "
    "n't since consistently long always remains remain remained be been being itself himself herself "
    "themselves quickly openly flatly categorically clearly further yet even"))
DAYS = set(_W("Monday Tuesday Wednesday Thursday Friday Saturday Sunday week weekend month year"))
PRONOUNS = {"he": "person", "she": "person", "they": "any", "it": "organisation"}
ROLE_NOUNS = set(_W(
    "official officials minister ministers president spokesman spokeswoman spokesperson spokespeople "
    "diplomat diplomats mp mps lawmaker lawmakers source sources analyst analysts expert experts leader "
    "leaders senator senators general generals commander commanders envoy envoys ambassador ambassadors "
    "chancellor secretary adviser advisers advisor aide aides representative representatives negotiator "
    "negotiators officer officers member members politician politicians deputy deputies people critics "
    "observers ally allies partners head chief premier coalition congressman congresswoman backbencher "
    "backbenchers planner planners chiefs activist activists researcher researchers chair commentator "
    "commentators historian historians professor academic academics scholar scholars admiral colonel brigadier "
    "paratrooper veteran veterans pundit pundits fellow specialist specialists mep meps critic lawyer lawyers "
    "chairman editorial board"))
ORG_HEADS = set(_W(
    "kremlin nato eu un ministry government administration commission council parliament party army "
    "forces department pentagon house street office alliance union coalition cabinet presidency "
    "senate congress duma bundestag assembly agency service committee embassy mission group military "
    "command staff elysee élysée"))
COUNTRIES = set(_W(
    "Russia Ukraine France Germany Britain UK US USA China Poland Italy Spain Sweden Finland Norway Denmark "
    "Estonia Latvia Lithuania Hungary Slovakia Czechia Romania Bulgaria Turkey Türkiye Japan Canada Australia "
    "Belgium Netherlands Austria Switzerland Ireland Portugal Greece Croatia Belarus Moldova Georgia Iran "
    "India Brazil Israel Europe Kyiv Kiev Moscow Washington London Paris Berlin Beijing Warsaw Rome Ankara "
    "Tokyo Brussels NATO EU UN Kremlin Pentagon"))
ALIASES = {"moscow": "Russia", "kyiv": "Ukraine", "kiev": "Ukraine", "washington": "United States",
           "us": "United States", "u.s": "United States", "usa": "United States", "london": "UK",
           "britain": "UK", "united kingdom": "UK", "downing street": "UK", "paris": "France",
           "berlin": "Germany", "beijing": "China", "warsaw": "Poland", "rome": "Italy", "ankara": "Turkey",
           **{city: country for country, cities in (
               ("Hungary", "budapest"), ("Slovakia", "bratislava"), ("Lithuania", "vilnius"), ("Latvia", "riga"),
               ("Estonia", "tallinn"), ("Finland", "helsinki"), ("Sweden", "stockholm"), ("Norway", "oslo"),
               ("Denmark", "copenhagen"), ("Czechia", "prague"), ("Austria", "vienna"), ("Spain", "madrid"),
               ("Portugal", "lisbon"), ("Greece", "athens"), ("Bulgaria", "sofia"), ("Romania", "bucharest"),
               ("Croatia", "zagreb"), ("Belarus", "minsk"), ("Georgia", "tbilisi"), ("Moldova", "chisinau"),
               ("Canada", "ottawa"), ("Australia", "canberra"), ("Iran", "tehran"), ("Japan", "tokyo"),
               ("Netherlands", "amsterdam"), ("Belgium", "brussels")) for city in cities.split()}}
TITLES = set(_W(
    "president prime minister foreign defence defense secretary chancellor spokesman spokeswoman "
    "spokesperson vice deputy general gen sen senator rep representative king queen pope ambassador envoy "
    "special chief head leader mr mrs ms dr sir admiral commander colonel former acting state security "
    "interior affairs press director chairman chair speaker premier national adviser advisor "
    "secretary-general mp mep opposition party"))
DEMONYMS = set(_W(
    "russian french british german ukrainian american us u.s uk eu polish italian spanish dutch belgian "
    "swedish finnish estonian latvian lithuanian czech slovak hungarian romanian bulgarian turkish chinese "
    "japanese canadian australian norwegian danish european nato belarusian greek austrian swiss irish "
    "portuguese croatian georgian moldovan israeli iranian indian brazilian kremlin white un "
    "ukraine's russia's france's britain's"))
LEAD = set(_W(
    "the a an but and however meanwhile still yet also now then on in at for after before while when "
    "although as if speaking asked earlier later last this that these those both his her their its "
    "instead so thus indeed separately previously by with from"))
POSSESSED = set(_W(
    "opposition rejection support plan plans proposal proposals position stance offer call warning "
    "warnings objection objections refusal idea initiative insistence demand demands pledge "
    "commitment readiness resistance view views"))
DET = set(_W("the a an one some several many two three four most other another"))
POSTMOD = set(_W("familiar close of from in at for with"))
MODIFIERS = set(_W("senior top former retired unnamed anonymous military defence defense foreign party ruling "
                      "opposition security intelligence other of one two three several some many most"))
ADJ_ENDINGS = ("al", "ian", "ish", "ese", "ic", "ary", "ern", "ior", "ive", "an")
IRREGULAR = set(_W("chose made took gave met held spoke went sent led left kept put set saw"))
EVENTS = set(_W("summit talks analysis explainer update live exclusive opinion watch breaking interview "
                   "editorial comment factbox timeline"))
QUOTES = {"“": 1, "”": -1, "\"": 0, "«": 1, "»": -1}
LINK = re.compile(r"\[([^\]\n]*)\]\([^)\s]*\)")
ORG_PHRASES = {"united states", "united kingdom", "european union", "white house", "downing street",
                "european commission", "united nations", "state department", "foreign ministry"}
TOKEN = re.compile(r"(?:[A-Z]\.){2,}|\w+(?:[’'.\-&]\w+)*|[^\w\s]")
