"""Facts the routing rules need beyond the predicted category (CONTRACT.md section 3.1).

A model trained with a signal head (``serving.model.heads``) gives most of these facts itself, in
``Prediction.signals``; ``signal_fired`` is where the rules read them, and where the text patterns
below stand in for a signal the model did not learn (models trained before the head, or on data
without the signal's intents) or are kept beside it where they measurably add to it.

Each detector is an anchor-word lookup followed, only when an anchor is present, by a small
regex; see ``serving.rules.textprep`` for why. All take a ``PreparedText``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from serving.rules.textprep import PreparedText, anchor_words


def _matches(prepared: PreparedText, anchors: frozenset[bytes], pattern: re.Pattern) -> bool:
    return not anchors.isdisjoint(prepared.words) and pattern.search(prepared.low) is not None


_EMERGENCY_WORDS = anchor_words(
    "hospital hospitalized hospitalised er icu emergency accident died passed death funeral "
    "ambulance surgery stroke seizure heart collapsed injured overdose sick ill illness hurt "
    "paramedics 911 urgent dying admitted"
)
_EMERGENCY = re.compile(
    r"\b(?:in|at|to|from) (?:the )?(?:hospital|er|emergency room|icu|a&e|urgent care)\b|"
    r"\bhospitali[sz]ed\b|\bemergency (?:room|surgery|c-section)\b|"
    r"\b(?:family|medical|health) emergency\b|"
    r"(?<!work )(?<!job )(?<!office )(?<!business )(?<!client )(?<!car )(?<!not an )(?<!no )"
    r"(?<!isn't an )\bemergency\b(?! (?:contact|number|line|hotline|fund|meeting|shift|call|deadline))"
    r"(?!\s+(?:at|with|for|from|in)\s+(?:work|my job|the job|the office|my office|school|a client|"
    r"my client|one of my clients|my boss|the shop|the store))|"
    r"\b(?<!by )accident\b|\bpassed away\b|\b(?:died|dying)\b|\bdeath in (?:the|my|our) family\b|"
    r"\bfuneral\b|\bambulance\b|\bparamedics\b|\b(?:heart attack|stroke|seizure)\b|"
    r"\bcollapsed\b|\b(?:suddenly|very|really|seriously|gravely) (?:ill|sick)\b|"
    r"\b(?:got|fell|became|been taken) (?:suddenly |seriously |very )?(?:ill|sick) suddenly\b|"
    r"\b(?:injured|hurt) (?:badly|in|at)\b|\bemergency surgery\b|\b(?:was|were|been|got|is|being) admitted\b"
)


def detect_emergency(prepared: PreparedText) -> bool:
    """Tell whether the text reports a medical or family emergency.

    Hospital, accident, a death or a sudden illness in the family count; ordinary conflicts
    (work, a broken-down car) do not. The ``emergency`` field, when given, wins over this.

    Args:
        prepared: the ticket text from ``prepare_text``.

    Returns:
        True when emergency wording is found.
    """
    return _matches(prepared, _EMERGENCY_WORDS, _EMERGENCY)


# Not "email"/"phone": too common to be worth a regex run; the phone/email-on-file case is
# anchored by "file", "registered" and the like instead.
_LOCKED_WORDS = anchor_words(
    "locked lockout lock disabled suspended deactivated frozen blocked attempts code codes "
    "2fa verification reset authenticator file registered associated linked tied"
)
# "I'm not locked out", "never been locked out": a denial is not a lock-out. The checks look back
# from "lock", so they run only where "lock" occurs.
_LOCK_DENIED = "".join(
    f"(?<!{denial} lock)" for denial in ("not", "n't", "never", "not been", "never been", "n't been")
)
_LOCKED = re.compile(
    rf"\block{_LOCK_DENIED}(?:ed)?[- ]?out\b|\baccount (?:is |was |got |has been |been |keeps getting )?"
    r"(?:locked|disabled|suspended|deactivated|frozen|blocked)|"
    r"\b(?:locked|disabled|suspended|deactivated|froze|blocked) (?:my |the )?account\b|"
    r"\btoo many (?:\w+ )?attempts\b|"
    r"\b(?:reset|verification|2fa|two[- ](?:step|factor)|security|login|sign[- ]in|authenticator|"
    r"one[- ]time) (?:code|codes|link|links|email|text|sms)s? (?:\w+ ){0,2}(?:is |are |isn'?t |aren'?t |"
    r"doesn'?t |don'?t |never |keeps? |still )?(?:not )?(?:working|work|arriving|arrive|arrives|"
    r"coming|come|comes|expired|invalid|failing|fail|fails|rejected)|"
    r"\b(?:never|didn'?t|don'?t|doesn'?t|not|stopped) (?:get|got|getting|receive|received|"
    r"receiving|arrive|arrived|come|came)\b[^.]{0,30}\b(?:code|codes|reset|link|text)\b|"
    r"\b(?:no longer have|lost|don'?t have|can'?t access|no access to|changed|new) (?:access to )?"
    r"(?:my |the )?(?:old )?(?:phone|number|email|cell|authenticator)(?: number| address| app)?"
    r"[^.]{0,60}\b(?:on file|registered|associated|linked|tied|code|codes|verification|2fa|"
    r"two[- ]step|sign in|log in|login)\b"
)


def detect_locked_out(prepared: PreparedText) -> bool:
    """Tell whether the client is locked out and self-service has failed.

    Account locked or disabled, too many attempts, reset and two-step codes not working, no
    access to the phone or email on file. A plain forgotten password is not locked out.

    Args:
        prepared: the ticket text from ``prepare_text``.

    Returns:
        True when lock-out wording is found.
    """
    return _matches(prepared, _LOCKED_WORDS, _LOCKED)


_REFILL_WORDS = anchor_words(
    "refill refills prescription prescriptions medication medications meds rx script pills"
)
_REFILL = re.compile(
    r"\b(?:refill|prescription|medication|meds|rx|script|pills)s?\b[^.]{0,60}\b(?:late|delayed|"
    r"delay|hasn'?t been|wasn'?t|not been|never|still (?:not|no|waiting|hasn'?t)|run(?:ning)? out|"
    r"ran out|urgent|urgently|asap|overdue|last (?:pill|dose)|missing|stuck|withdrawal)\b|"
    r"\b(?:run(?:ning)? out|ran out|out|last) of (?:my )?(?:medication|meds|pills|prescription|"
    r"\w+ (?:pills|meds))\b|\burgent(?:ly)? (?:need|needs|refill)\b|"
    r"\b(?:delayed|late|missing|overdue) (?:refill|prescription|medication|meds)\b|"
    r"\b(?:withdrawal|withdrawing)\b"
)


def detect_urgent_refill(prepared: PreparedText) -> bool:
    """Tell whether the text reports an urgent clinical need such as a delayed refill.

    Args:
        prepared: the ticket text from ``prepare_text``.

    Returns:
        True for a delayed, overdue or run-out prescription or an explicitly urgent need.
    """
    return _matches(prepared, _REFILL_WORDS, _REFILL)


_END_CARE_WORDS = anchor_words(
    "stop end ending quit leave switch change terminate discontinue done break new different "
    "another stopping quitting leaving switching changing"
)
_END_CARE = re.compile(
    r"\b(?:stop|stopping|end|ending|quit|quitting|leave|leaving|switch|switching|change|changing|"
    r"terminate|discontinue|done with|break up with|no longer (?:want|see)|find (?:a )?(?:new|"
    r"different|another))\b[^.]{0,40}\b(?:therap\w*|provider|counsel\w*|psychiatrist|sessions|"
    r"care|treatment|seeing (?:her|him|them))"
)
_DISCOMFORT = re.compile(
    r"\b(?:uncomfortable|awkward|nervous|scared|afraid|anxious|weird|hard|guilty|embarrassed|"
    r"don'?t want|do not want|don'?t know how|rather not)\b[^.]{0,30}\b(?:tell|telling|say|saying|"
    r"let (?:her|him|them) know|talk|bring (?:it )?up|face)\b|"
    r"\bwithout (?:telling|talking to) (?:her|him|them|my)|\b(?:on my behalf|for me)\b[^.]{0,20}"
    r"\b(?:tell|let|inform)|\b(?:tell|let|inform) (?:her|him|them|my \w+)(?: know)? for me\b|"
    r"\bcan (?:you|someone|support) (?:tell|let|inform)"
)


def detect_end_care(prepared: PreparedText) -> bool:
    """Tell whether the client wants to end care and is uncomfortable telling the provider.

    Args:
        prepared: the ticket text from ``prepare_text``.

    Returns:
        True when both the wish to end or switch and the discomfort (or a request to pass it on)
        are stated.
    """
    if _END_CARE_WORDS.isdisjoint(prepared.words):
        return False
    low = prepared.low
    return _END_CARE.search(low) is not None and _DISCOMFORT.search(low) is not None


_NO_SHOW_WORDS = anchor_words(
    "show showed shown noshow join joined log logged never didn come came appear appeared wait "
    "waited waiting stood"
)
_NO_SHOW = re.compile(
    r"\b(?:provider|therapist|counsel(?:l)?or|psychiatrist|doctor|dr|clinician|prescriber|np|she|"
    r"he|they)\b[^.]{0,40}?\b(?:never|didn'?t|did not|failed to|does not|doesn'?t)\s+(?:\w+ ){0,2}"
    r"(?:show(?:ed)?(?: up)?|join(?:ed)?|log(?:ged)? (?:on|in)|come|came|appear(?:ed)?|"
    r"start(?:ed)? the (?:session|call|video)|turn(?:ed)? up)\b|"
    r"\b(?:provider|therapist|counsel(?:l)?or|psychiatrist|doctor|clinician) (?:was a )?no[- ]?show|"
    r"\b(?:no[- ]?show(?:ed)?) by (?:my |the )?(?:provider|therapist|counsel(?:l)?or|doctor)|"
    r"\bwaited\b[^.]{0,60}\b(?:no one|nobody|(?:the |my )?(?:provider|therapist|doctor|she|he|"
    r"they) never) (?:joined|showed|came|logged)|\bstood me up\b"
)


# The client saying they missed their own session ("I was a no-show", "I overslept"): SCHED-PAST, not a
# provider no-show, unless the text also says the provider did not show.
_OWN_MISS_WORDS = anchor_words("i missed forgot overslept slept no noshow showed show fault")
_OWN_MISS = re.compile(
    r"\bi (?:was (?:a |the )?no[- ]?show|no[- ]?showed|(?:completely |totally )?(?:missed|forgot(?: about)?|"
    r"slept through) (?:my|our|the|it)\b|overslept|(?:didn'?t|did not|couldn'?t|could not) (?:show|make it|join|log)"
    r")|\bmy (?:own )?fault\b"
)


def client_missed_own(prepared: PreparedText) -> bool:
    """Tell whether the client says they missed the session themselves (and not that the provider did)."""
    if _OWN_MISS_WORDS.isdisjoint(prepared.words):
        return False
    return _OWN_MISS.search(prepared.low) is not None and not detect_provider_no_show(prepared)


def detect_provider_no_show(prepared: PreparedText) -> bool:
    """Tell whether the provider missed a session (the client missing theirs does not count).

    Args:
        prepared: the ticket text from ``prepare_text``.

    Returns:
        True when the text says the provider did not show up or join.
    """
    return _matches(prepared, _NO_SHOW_WORDS, _NO_SHOW)


_RECURRING_WORDS = anchor_words(
    "recurring weekly biweekly fortnightly monthly every series standing regular repeating "
    "ongoing permanently future forward all"
)
_RECURRING = re.compile(
    r"\brecurring\b|\b(?:weekly|biweekly|bi-weekly|fortnightly|monthly) (?:sessions?|appointments?|"
    r"slot|time|schedule|series)\b|\bevery (?:other )?(?:week|monday|tuesday|wednesday|thursday|"
    r"friday|saturday|sunday|month)\b|\b(?:appointment|session|the|my|our|whole|entire) series\b|\bstanding "
    r"(?:appointment|session|slot)|\bregular (?:slot|time|appointment|session|day)\b|"
    r"\ball (?:my |of my |our )?(?:future |upcoming )?(?:(?:mon|tues|wednes|thurs|fri|satur|sun)day )?"
    r"(?:sessions|appointments)\b|\bfrom now on\b|"
    r"\bgoing forward\b|\bpermanently\b|\brepeating (?:session|appointment)"
)


def detect_recurring_change(prepared: PreparedText) -> bool:
    """Tell whether the request changes a recurring series rather than one appointment.

    Args:
        prepared: the ticket text from ``prepare_text``.

    Returns:
        True when recurring-series wording is found.
    """
    return _matches(prepared, _RECURRING_WORDS, _RECURRING)


_INSURANCE_WORDS = anchor_words(
    "insurance insurer network plan coverage covered cover covers member policy medicaid "
    "medicare aetna cigna bcbs humana kaiser anthem payer tricare optum"
)
_INSURANCE = re.compile(
    r"\b(?:update|updating|change|changing|changed|new|add|adding|switch(?:ed|ing)?|replace|"
    r"upload|uploading|enter|submit) (?:\w+ ){0,3}(?:insurance|insurer|policy|member id|coverage|"
    r"insurance card|health plan)\b|\b(?:insurance|coverage|insurer) (?:\w+ ){0,2}(?:changed|"
    r"renewed|switched|updated|ended|terminated|expired|lapsed)\b|\bin[- ]network\b|"
    r"\bout[- ]of[- ]network\b|\b(?:take|takes|accept|accepts|covered by|part of|work with|"
    r"works with|bill|billing) (?:my )?(?:\w+ )?(?:insurance|medicaid|medicare|aetna|cigna|bcbs|"
    r"blue cross|united ?healthcare|humana|kaiser|anthem|tricare|optum)\b|\b(?:is|are) "
    r"(?:you|she|he|they|my (?:provider|therapist)) (?:covered|in[- ]network)"
)


def detect_insurance(prepared: PreparedText) -> bool:
    """Tell whether the client wants to update insurance or check in-network status.

    Args:
        prepared: the ticket text from ``prepare_text``.

    Returns:
        True for insurance updates and network/coverage checks.
    """
    return _matches(prepared, _INSURANCE_WORDS, _INSURANCE)


_ENGLISH = anchor_words(
    "the and to my i is it of for in on with this that have can be you was are do but at so "
    "just please me not what how when an will would there been has get"
)
_FOREIGN = anchor_words(
    "que por para el los las una necesito cita tengo hola gracias puedo mi con pero cuenta "
    "está esta estoy je mon ma les des est pas pour avec une vous bonjour merci suis nous "
    "não meu minha consulta obrigado você eu uma ich nicht mein meine und der das ist termin "
    "bitte danke mit kann habe sono il della grazie ho appuntamento non di per"
)


def detect_non_english(prepared: PreparedText) -> bool:
    """Tell cheaply whether the text is probably not English.

    Mostly non-ASCII letters (e.g. Chinese, Arabic, Cyrillic) count as non-English; otherwise the
    text is non-English when its common foreign function words (Spanish, French, Portuguese,
    German, Italian) outnumber English ones. Good enough to ask for review, not to translate.

    Args:
        prepared: the ticket text from ``prepare_text``.

    Returns:
        True when the text looks non-English.
    """
    low = prepared.low
    if not low.isascii():
        letters = sum(1 for ch in low if ch.isalpha())
        foreign = sum(1 for ch in low if ch.isalpha() and not ch.isascii())
        if letters and foreign / letters > 0.3:
            return True
    foreign_hits = len(_FOREIGN & prepared.words)
    if foreign_hits < 2:
        return False
    return foreign_hits > len(_ENGLISH & prepared.words)


# The signals a model can learn, each with the pattern that stands in for it when it is not learned.
PATTERNS: dict[str, Callable[[PreparedText], bool]] = {
    "emergency": detect_emergency,
    "locked_out": detect_locked_out,
    "urgent_refill": detect_urgent_refill,
    "end_care": detect_end_care,
    "provider_no_show": detect_provider_no_show,
    "recurring_series": detect_recurring_change,
    "insurance": detect_insurance,
}
SIGNALS: tuple[str, ...] = tuple(PATTERNS)
# Where a pattern is kept beside its learned signal, and how: "or" fires when either does (the
# pattern adds recall), "and" only when both do (the pattern adds precision). Each kept pattern
# measurably improved its signal on held-out families or on the routing tuning set; the others
# did not and are read only for models without the signal (README, "Learned routing signals").
PATTERN_KEPT: dict[str, str] = {"emergency": "or", "recurring_series": "or"}
# Patterns that stop a learned signal from firing. The client's own missed session is the contract's
# example (section 3.1); the veto changed no decision on the routing tuning set (either half), and it
# keeps a borderline "I was a no-show, my fault" from reading as a provider no-show.
VETOES: dict[str, Callable[[PreparedText], bool]] = {"provider_no_show": client_missed_own}


def signal_fired(name: str, learned: Mapping[str, bool], prepared: PreparedText) -> bool:
    """Whether a routing signal fires: the learned one, combined with its pattern where that is kept.

    Args:
        name: one of ``SIGNALS``.
        learned: the prediction's learned signals; a missing name was not learned, so the pattern decides.
        prepared: the ticket text from ``prepare_text``.

    Returns:
        True when the signal fires.
    """
    fired = learned.get(name)
    if fired is None:
        return PATTERNS[name](prepared)
    if fired and name in VETOES and VETOES[name](prepared):
        return False
    kept = PATTERN_KEPT.get(name)
    if kept == "or":
        return fired or PATTERNS[name](prepared)
    if kept == "and":
        return fired and PATTERNS[name](prepared)
    return fired
