"""Signals beyond the category: positives and the look-alikes that must not fire."""

import pytest

from serving.rules import signals
from serving.rules.textprep import prepare_text

CASES = {
    signals.detect_emergency: (
        ["my mom was rushed to the hospital", "my son was in a car accident this morning",
         "there was a death in the family", "my father passed away last night",
         "my daughter suddenly got very sick", "family emergency, sorry",
         "my baby was admitted to the children's ward overnight"],
        ["I have a work emergency", "my car broke down", "I booked it by accident",
         "this is not an emergency", "my boss needs me to stay late",
         "I have an emergency at work", "there's an emergency at the office", "my boss called an emergency meeting"],
    ),
    signals.detect_locked_out: (
        ["my account is locked", "too many login attempts and now I can't get in",
         "the reset code isn't working", "verification codes never arrive",
         "I no longer have the phone number on file so I can't get the code",
         "I got locked out after too many tries",
         "my account was disabled"],
        ["I forgot my password", "how does two-step verification work?",
         "how do I change my email", "can I turn off 2fa",
         "I'm not locked out, I just forgot my password", "I wasn't locked out, the page was slow",
         "I'm not locked out or anything, the app says session expired"],
    ),
    signals.detect_urgent_refill: (
        ["my refill is delayed and I'm almost out", "I ran out of my meds yesterday",
         "prescription still hasn't been sent to the pharmacy", "I urgently need my medication"],
        ["can I get a refill next month", "what are the side effects of my medication"],
    ),
    signals.detect_end_care: (
        ["I want to stop therapy but I feel awkward telling my counselor",
         "can you tell my therapist for me that I'm ending sessions",
         "I'd like to switch providers without telling her"],
        ["I want to switch therapists", "I feel awkward in sessions sometimes"],
    ),
    signals.detect_provider_no_show: (
        ["my therapist never showed up", "I waited 20 minutes and the provider never joined",
         "the provider didn't log on for our session", "my psychiatrist was a no-show"],
        ["I missed my session yesterday", "I didn't show up, sorry", "can I join early"],
    ),
    signals.detect_recurring_change: (
        ["please move my weekly sessions to tuesdays", "change my recurring appointment",
         "every other week would work better from now on", "can we shift the whole series to mornings",
         "could all my thursday sessions start at 6"],
        ["move my appointment tomorrow", "cancel the session on friday"],
    ),
    signals.detect_insurance: (
        ["I need to update my insurance", "is my therapist in-network with aetna",
         "my insurance changed in january", "do you take medicaid"],
        ["why was I charged twice", "can I get a receipt"],
    ),
    signals.detect_non_english: (
        ["Hola, necesito cambiar mi cita para el martes", "我需要取消明天的预约",
         "Bonjour, je ne peux pas me connecter à mon compte", "Ich habe meinen Termin nicht bekommen und bitte um Hilfe"],
        ["I need to change my appointment", "Can I pay with my HSA card?", "café hours?"],
    ),
}


@pytest.mark.parametrize(
    ("detector", "text", "expected"),
    [(d, t, True) for d, (pos, _) in CASES.items() for t in pos]
    + [(d, t, False) for d, (_, neg) in CASES.items() for t in neg],
)
def test_signal(detector, text, expected):
    assert detector(prepare_text(text)) is expected


@pytest.mark.parametrize(
    ("text", "own"),
    [
        ("I was a no-show for my session yesterday, my fault.", True),
        ("Completely forgot my appointment this morning, can I rebook?", False),  # no "I": the model decides
        ("I overslept and missed my session", True),
        ("I missed my session because my therapist never showed up", False),  # the provider did not show
        ("Dr. Lee was a no-show for our session yesterday", False),
    ],
)
def test_client_missed_own_session(text, own):
    assert signals.client_missed_own(prepare_text(text)) is own


def test_a_veto_stops_a_learned_no_show_and_only_that():
    prepared = prepare_text("I was a no-show for my session yesterday, my fault.")
    assert not signals.signal_fired("provider_no_show", {"provider_no_show": True}, prepared)
    never_joined = prepare_text("My therapist never joined the call")
    assert signals.signal_fired("provider_no_show", {"provider_no_show": True}, never_joined)
    assert not signals.signal_fired("provider_no_show", {"provider_no_show": False}, prepared)
