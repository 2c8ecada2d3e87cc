"""Crisis wording: suicidal thoughts, self-harm, harm to others (CONTRACT.md rule SAFETY-CRISIS).

Hand-written patterns, not a model: the rule must be deterministic, auditable and fast, and a
miss costs far more than a false alarm (a false alarm only sends the ticket to the provider with
the crisis lines in the reason). Each pattern is tied to anchor words; a ticket with none of the
anchors costs one set intersection. A match is dropped when a clear negation sits right before it
in the same clause ("I'm not suicidal") or when it is a known idiom ("jump off the call").
The labelled set in ``data/crisis/crisis_set.jsonl`` and ``python -m pipeline.evaluation.crisis``
measure recall and false-positive rate.

A model with the learned crisis score (``serving.model.crisis``) reads these patterns through
``matching_rules`` and decides with them; the patterns alone decide for a model without it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass

from serving.rules.textprep import PreparedText, anchor_words, prepare_text

_KIN = (
    r"(?:baby|babies|son|daughter|child|kid|kids|children|wife|husband|partner|boyfriend|"
    r"girlfriend|mom|mother|dad|father|boss|coworker|co-worker|roommate|brother|sister|neighbou?r|"
    r"ex|family|newborn|toddler|students?|teacher|manager)"
)
_HARM_VERB = r"(?:kill|killing|hurt|hurting|harm|harming|stab|stabbing|strangle|strangling|" \
    r"smother|smothering|drown|drowning|shake|shaking|choke|choking|shoot|shooting|poison|poisoning)"
_INTENT = (
    r"(?:want(?:ed)? to|wanna|going to|gonna|i'?ll|i will|i might|i could|afraid i'?ll|"
    r"scared i'?ll|afraid i might|scared i might|thoughts? (?:of|about)|thinking (?:of|about)|"
    r"urges? to|feel like|keep (?:imagining|picturing|thinking about)|imagine|imagining|"
    r"picturing|fantasi[sz]e about|fantasi[sz]ing about|fantasies about|plan(?:ning)? to|tempted to|"
    r"about to|snap and)"
)

# (anchor words, pattern). Anchors: any one must be among the ticket's words for the pattern to run.
_RULES: tuple[tuple[str, str], ...] = (
    (
        "suicide suicidal suicidality suicides sucidal suicidial suisidal suicidle suiside "
        "sucide suicidel",
        r"\bsu[ie]?[cs]id\w*+(?!\s+(?:squad|prevention (?:month|week|day|training|course|walk|"
        r"fundraiser)|doors?|awareness (?:month|week|walk)))",
    ),
    (
        "myself",
        r"\b(?:kill|killing|killed|off|offing|hurt|hurting|harm|harming|cut|cutting|hang|hanging|"
        r"burned|burnt|scratch|scratching|scratched|hit|hitting|starved|shoot|shooting|drown|drowning|poison|poisoning|starve|starving|burn|burning|punish|"
        r"punishing|end|ending|stab|stabbing|overdose|od)\s+myself\b"
        r"(?!\s+(?:shaving|cooking|on (?:a|the|some|my)|by accident|accidentally|a break|"
        r"some slack|off from|laughing|at (?:the )?(?:gym|work)|lifting|running|playing|skiing|"
        r"exercising|working out|in the kitchen))",
    ),
    ("myself", r"\b(?:can'?t|cannot|cant|not able to|unable to|won'?t be able to) (?:keep|keeping) "
     r"myself safe\b|\bnot (?:feel )?safe (?:with|around|from|by) myself\b|\bmyself on purpose\b"),
    ("urge urges", r"\burges? to (?:cut|self[- ]?harm|hurt myself|harm myself|burn|hit myself|die)"),
    ("myself", r"\b(?:don'?t|do not|dont|can'?t|cant) trust myself\b"),
    ("himself herself themselves hisself", r"\b(?:kill|killing|killed|hurt|hurting|harm|harming|"
     r"cut|cutting|hang|hanging|shoot|shooting|off|end|ending|overdose|starve|starving|burn|"
     r"burning)\s+(?:himself|herself|themselves|hisself)\b"),
    ("here around alive", r"\bif i (?:just )?(?:wasn'?t|weren'?t|was not|were not) (?:here|around|"
     r"alive)\b"),
    ("stop end", r"\bwant (?:it|everything|this|things) (?:all )?to (?:stop|end) (?:for good|forever|"
     r"permanently)"),
    ("end", r"\b(?:i|i'?ll|i will|going to|gonna) end it\b(?!\s+(?:with|early|now|for|here|there|"
     r"at|before|after|by))"),
    ("bottle pack box", r"\b(?:whole|entire|full) (?:bottle|pack|box) of (?:my |his |her )?(?:pills|"
     r"meds|tablets|sleeping pills|medication)"),
    ("pills tablets meds", r"\bhow many (?:pills|tablets|meds) (?:it would take|to (?:die|end|"
     r"overdose|take))"),
    ("way escape", r"\bno (?:way out|escape) (?:except|but|other than)\b"),
    ("longer", r"\b(?:won'?t|will not) be (?:a problem|a burden|around|here|bothering anyone)"
     r"(?: for (?:anyone|anybody|you|them))? (?:much|for) longer\b"),
    ("bled bleed bleeding blood", r"\b(?:cut|cutting|scratch\w*|burn\w*|hit\w*) (?:my|his|her) "
     r"(?:arms?|wrists?|legs?|thighs?|skin)[^.]{0,20}\b(?:bled|bleed|bleeding|blood)"),
    ("kms unalive unaliving", r"\b(?:kms|unalive|unaliving)\b"),
    ("life", r"\b(?:end|ending|take|taking|took) (?:my|his|her|their) (?:own )?life\b"),
    ("life living live alive", r"\b(?:life|living) (?:is|isn'?t|feels|seems|is not|doesn'?t feel) "
     r"(?:not |no longer )?(?:worth (?:it|living)|pointless|meaningless)|\bnot worth living\b|"
     r"\bdone with (?:life|living)\b|\bnothing (?:left )?to live for\b|\bno reason to live\b|"
     r"\btired of (?:living|being alive|life)\b|\bsick of (?:living|being alive)\b"),
    ("all", r"\bend(?:ing)? it all\b"),
    ("things everything", r"\bend(?:ing)? (?:things|everything)\b(?!\s+with\b)"),
    ("die dead dying death",
     r"\b(?:want|wanna|wanted|wants|wish|wishes|ready|going|like|deserve|deserves|hope|prefer) (?:to )?"
     r"(?:just )?(?:die|be dead)\b|\bwish(?:es)? (?:i|i'?d|he|she|they) (?:was|were|had|would) (?:just )?"
     r"(?:dead|die|died)\b|\bbetter off dead\b|\brather be dead\b|\bthink\w* (?:about|of) "
     r"(?:dying|death|being dead|not existing)\b|\bthoughts? (?:of|about) (?:dying|death|being dead)\b"),
    ("without", r"\bbetter off without (?:me|him|her|them)\b"),
    ("live alive exist here around anymore wake",
     rf"\b(?:do|dont|don'?t|do not|doesn'?t|does not|didn'?t|no longer|really|just|not)\s*"
     rf"(?:really\s+|even\s+)?(?:wants? to|wanna) (?:live|be alive|exist|be here|be around|go on|keep going|wake up)\b"
     r"(?!\s+(?:in|with|on|at|near|there|without)\b)"),
    ("born here alive around exist", r"\bwish (?:i|i'?d) (?:was|were|had)(?:n'?t| not| never)? "
     r"(?:never )?(?:been )?(?:born|here|alive|around|existed)\b|"
     r"\bwish i (?:didn'?t|did not) exist\b"),
    ("point", r"\b(?:don'?t|dont|do not|can'?t|cant|no longer|not) see (?:the |a |any )?point "
     r"(?:anymore|any more|in (?:anything|living|life|going on|any of it|trying|being here)|"
     r"of (?:anything|living|life|going on|any of it))\b|\bno point (?:in )?(?:living|going on|"
     r"being alive|being here|waking up|anymore)\b|\bwhat'?s the point (?:of|in) (?:living|life|"
     r"going on|anything|being alive|trying anymore)\b"),
    ("go keep take", r"\bcan'?t (?:go on(?! (?:the|this|my|your|zoom|video|it|at|after)\b)|"
     r"keep going|keep living|take (?:it|this|much more|"
     r"any more|anymore)(?: anymore| any more)?+)\b(?! (?:with|in) (?:this|the|these|your)\b)"),
    ("miss notice care", r"\b(?:nobody|no one|noone|no-one|nobody|none of them) (?:would|will|'d|"
     r"is going to|even) (?:\w+ )?(?:miss me|notice if i|care if i|notice i'?m gone|notice when i)"),
    ("burden", r"\b(?:i'?m|i am|im|being|feel like) (?:just )?(?:a|such a) burden\b"
     r"(?![^.]{0,40}\b(?:questions|messages|texts|emails|asking)\b)|"
     r"\bburden (?:to|on) (?:everyone|everybody|my family|them|the people)\b"),
    ("better", r"\b(?:everyone|everybody|they|my family|my kids|the world)(?:'d| would| will) be "
     r"better (?:off )?(?:without me|if i (?:was|were) gone|if i wasn'?t (?:here|around))"),
    ("overdose overdosed overdosing", r"\boverdos\w*+(?!\s+on (?:coffee|caffeine|sugar|candy|"
     r"chocolate|netflix|tv|memes))"),
    ("pills meds tablets medication", r"\b(?:took|take|taking|swallow(?:ed)?|save|saving|"
     r"saved|stockpil\w*|hoard\w*) (?:up )?(?:all|a bunch|a handful|the whole bottle|too many|"
     r"enough)(?: of)? (?:my |the |his |her )?(?:pills|meds|tablets|medication)\b|"
     r"\b(?:pills|meds) to (?:end|die|sleep forever|not wake up)|\benough (?:pills|meds) to\b|"
     r"\b(?:pills|meds|medication) (?:saved|stockpiled|stashed|hoarded)\b|"
     r"\b(?:stockpil\w*|hoard\w*|saving up|saved up|stashing|stashed) (?:my |the |his |her )?"
     r"(?:pills|meds|tablets|medication|sleeping pills)\b"),
    ("cutting cut cuts", r"\b(?:started|start|been|keep|kept|back to|i'?m|im|i am|relapsed|"
     r"stop|stopped|quit|urge to|urges to|want to|started)\s+(?:\w+\s+)?(?:cutting|self[- ]?"
     r"harming)\b(?!\s+(?:out|off|back|down|costs?|my (?:hours|budget|losses|spending)|corners|"
     r"in|the|it|through|ties|carbs|sugar|class|classes))|\bcuts? on (?:my|his|her|their) (?:\w+'s )?"
     r"(?:arms?|wrists?|legs?|thighs?|stomach)\b|\b(?:cutting|cuts|cut) (?:my|his|her|their) "
     r"(?:arms?|wrists?|legs?|thighs?|skin)\b"),
    ("harm harming harmed injury injuring", r"\bself[- ]?(?:harm\w*|injur\w*)\b"),
    ("jump jumping off front", r"\b(?:jump|jumping|jumped|throw myself) (?:off|from|in front of) "
     r"(?:a |the |my )?(?:bridge|roof|building|balcony|cliff|ledge|overpass|parking (?:garage|"
     r"deck)|train|bus|car|truck|window)\b|\bstep in front of (?:a|the) (?:train|bus|car|truck)"),
    ("noose rope", r"\bnoose\b|\brope (?:to|for) (?:hang|myself)"),
    ("wake", r"\b(?:hope|wish|want|pray) (?:i|to) (?:don'?t|dont|never|won'?t|do not|not)? ?"
     r"(?:wake up|waking up)\b(?!\s+(?:early|late|on time|in time|at))|\bnever wake up\b|"
     r"\bsleep and (?:never|not) wake up\b|\bsleep forever\b"),
    ("goodbye note letter notes letters belongings stuff things", r"\b(?:goodbye|suicide|final) "
     r"(?:letter|note|notes|letters|messages?)\b|\b(?:giving|gave|give) away (?:all )?(?:my|his|"
     r"her) (?:stuff|things|belongings|possessions)\b"),
    ("voices voice", r"\bvoices? (?:is |are |keep |keeps )?(?:tell|telling|told|say|saying) "
     r"me to (?:hurt|kill|harm|die|end|do it|jump)"),
    ("disappear vanish", r"\b(?:want|wanna|wish i could) (?:to )?(?:just )?(?:disappear|vanish)"
     r"\b(?! for (?:a|an|the) (?:bit|while|day|week|weekend|hour|few)| from (?:the|my|your))"),
    ("plan means gun pills", r"\b(?:have|has|got|made|had) (?:a |the )?(?:plan|means|gun|pills)"
     r"[^.]{0,30}\b(?:to|for) (?:do it|end|die|kill)"),
    ("intrusive urges urge thoughts images", rf"\bintrusive (?:thoughts?|images?|urges?)\b"
     rf"[^.]{{0,80}}\b(?:{_HARM_VERB}|push|pushing|hit|hitting|violent|violence|hurt)"),
    ("thoughts thought urges urge images picturing imagining", rf"\b(?:thoughts?|images?|urges?|"
     rf"picturing|imagining) (?:of |about |to )?{_HARM_VERB}\s+(?:my|him|her|them|someone|"
     rf"somebody|people|the)"),
    (
        "kill killing hurt hurting harm harming stab stabbing strangle smother drown shake shaking "
        "choke shoot shooting poison",
        rf"{_INTENT}\s+(?:\w+\s+)?{_HARM_VERB}\s+(?:him|her|them|someone|somebody|people|"
        rf"everyone|everybody|the baby|the kids|my {_KIN}|our {_KIN}|his {_KIN}|her {_KIN})\b"
        r"(?!\s+(?:feelings|chances|reputation|career|business|credit|score|rating))",
    ),
    ("scared afraid terrified worried", r"\b(?:scared|afraid|terrified|worried) (?:that )?i"
     rf"(?:'ll| might| will| could| would| may) (?:\w+ )?(?:{_HARM_VERB}|do something to|snap)"),
    ("scared afraid terrified worried", r"\b(?:scared|afraid|terrified|worried) (?:that )?"
     rf"(?:he|she|they|my {_KIN}) (?:might|will|'ll|could|would|is going to|is gonna) "
     rf"(?:\w+ )?(?:kill|hurt|harm|hit|shoot|stab)\b"),
    ("threatened threatening threatens threaten", r"\bthreat\w* to (?:kill|hurt|harm|shoot|"
     r"stab|end|jump)"),
    ("hits hit beats beat choked chokes strangled hurts slapped punched pushed",
     r"\b(?:he|she|they|husband|wife|partner|boyfriend|girlfriend|dad|father|mom|mother|"
     r"stepdad|ex) (?:\w+ )?(?:hits|hit|beats|beat|choked|chokes|strangled|slapped|punched|"
     r"hurts) (?:me|us|the kids|my (?:son|daughter|kids|children|baby))\b(?! up| with)"),
    ("die dying death dead ending wanting", rf"\b(?:he|she|they|my {_KIN}) (?:\w+ ){{0,2}}(?:talking|talks|"
     r"talked|saying|says|said|texting|texted|posting|posted|writing|wrote) (?:about |that )?"
     r"(?:\w+ ){0,3}(?:wanting to die|want(?:s|ed)? to die|dying|being dead|death|ending it)"),
    ("safe", rf"\b(?:my {_KIN}|he|she|they) (?:is|isn'?t|are|aren'?t|'s) (?:not )?safe (?:with|"
     r"around) (?:me|himself|herself|themselves)\b|\bnot safe (?:with|around) (?:myself|me)\b"),
)
# Identifies the table's order: a learned crisis score names patterns by index (serving.model.crisis).
RULES_FINGERPRINT = hashlib.sha256(repr(_RULES).encode()).hexdigest()[:16]
_COMPILED = tuple((anchor_words(words), re.compile(pattern)) for words, pattern in _RULES)
_ALL_ANCHORS = frozenset().union(*(anchors for anchors, _ in _COMPILED))
# anchor word -> indices of the rules it enables, so a ticket only visits the rules it can match.
_RULES_BY_ANCHOR: dict[bytes, tuple[int, ...]] = {
    word: tuple(i for i, (anchors, _) in enumerate(_COMPILED) if word in anchors)
    for word in _ALL_ANCHORS
}
# A clear negation right before a match, in the same clause: "i'm not suicidal",
# "no thoughts of hurting myself", "never wanted to die".
_NEGATION = re.compile(
    r"(?:\bnot|\bnever|\bno|n't|\b(?:dont|cant|wont|didnt|isnt|wasnt|doesnt|havent|hasnt|"
    r"couldnt|wouldnt|arent|aint)|\bnor|\bwithout|\bno longer|\bdenies|\bdeny)\s+"
    r"(?:(?:been|ever|having|had|have|feeling|feel|felt|currently|really|actually|going|saying|"
    r"thinking|thoughts?|urges?|intention|intent|plans?|planning|desire|want|wanting|trying|"
    r"intend|about|any|at|all|in|danger|of|to|a|the|"
    r"i|am|im|i'?m)\s+){0,4}$"
)
# A denial right after the match: "asked if I'm suicidal and I'm not", "self-harm: none".
_AFTER_NEGATION = re.compile(
    r"\s*,?\s*(?:(?:and|but) )?(?:i'?m|i am|im) not\b|\s*[:;?\-]\s*(?:none|no|nope|never)\b"
)
_CLAUSE_BREAK = re.compile(r".*(?:[,.;:!?\n]|\bbut\b|\band\b|\bso\b|\bbecause\b|\bthough\b)")


@dataclass(frozen=True, slots=True)
class CrisisMatch:
    """Where crisis wording was found (offsets only: never copy health text into logs).

    Attributes:
        rule: index of the pattern in the rule table.
        start: start offset in the text.
        end: end offset in the text.
    """

    rule: int
    start: int
    end: int


def _negated(low: str, start: int) -> bool:
    before = low[max(0, start - 60) : start]
    cut = _CLAUSE_BREAK.match(before)
    if cut is not None:
        before = before[cut.end() :]
    return _NEGATION.search(before) is not None


def _matches(text: str | PreparedText) -> Iterator[CrisisMatch]:
    """Each pattern's first non-negated match in a ticket, in rule-table order (lazily)."""
    prepared = prepare_text(text) if isinstance(text, str) else text
    hits = _ALL_ANCHORS.intersection(prepared.words)
    if not hits:
        return
    low = prepared.low
    for index in sorted({i for word in hits for i in _RULES_BY_ANCHOR[word]}):
        for match in _COMPILED[index][1].finditer(low):
            if not _negated(low, match.start()) and not _AFTER_NEGATION.match(low, match.end()):
                yield CrisisMatch(rule=index, start=match.start(), end=match.end())
                break


def matching_rules(text: str | PreparedText) -> frozenset[int]:
    """Every pattern (index in the rule table) with a non-negated match in a ticket.

    The learned crisis score (``serving.model.crisis``) reads this: some patterns fire alone, others
    only when the learned score agrees, chosen by measurement in training.
    """
    return frozenset(match.rule for match in _matches(text))


def find_crisis(text: str | PreparedText) -> CrisisMatch | None:
    """Find the first crisis wording in a ticket.

    Args:
        text: the ticket text, or the same from ``prepare_text``.

    Returns:
        The first non-negated match, or None.
    """
    return next(_matches(text), None)


def detect_crisis(text: str | PreparedText) -> bool:
    """Tell whether a ticket suggests risk of suicide, self-harm or harm to others.

    Args:
        text: the ticket text, or the same from ``prepare_text``.

    Returns:
        True when crisis wording is found and not negated.
    """
    return find_crisis(text) is not None
