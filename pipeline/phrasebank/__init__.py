"""Hand-written phrasings of help-desk requests, one module per category.

Each module defines ``INTENTS: dict[str, list[str]]``: intent name -> independently written phrasings.
Every phrasing is its own *family*: the generator records ``<intent>/<index>`` so that evaluation can
hold out phrasings the model never saw. A phrasing is a whole request in a client's own voice and may
use these slots, which the generator fills:

- ``{provider}``: the client's provider ("Dr. Patel", "my therapist", "Maria").
- ``{when}``: a time of the appointment the request is about ("tomorrow at 3pm", "on Thursday",
  "Dec 3 at 2pm", "tonight"); only where a client would name one.
- ``{waited}``: how long the client has waited for the provider ("3 days", "a week", "since Monday").
- ``{amount}``: a sum of money ("$45", "85 dollars").
- ``{med}``: a medication ("sertraline", "my Lexapro").
- ``{insurer}``: an insurance company ("Aetna", "Blue Cross").
- ``{app}``: the platform's software ("the app", "the portal", "the website").
"""

from pipeline.phrasebank import account, billing, clinical, scheduling, technical

BY_CATEGORY: dict[str, dict[str, list[str]]] = {
    "clinical": clinical.INTENTS,
    "scheduling": scheduling.INTENTS,
    "billing": billing.INTENTS,
    "technical": technical.INTENTS,
    "account": account.INTENTS,
}
