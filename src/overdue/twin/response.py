"""How synthetic customers respond to a contact (and to no contact), one day at a time.

The monthly habits of :mod:`overdue.twin.behaviour` make the book; this module answers the
strategy simulator's daily questions:

- a contact attempt: is it connected (delivered / answered), is it the right party, is there a
  conversation, a promise to pay, a payment (full or part, after a delay), a complaint, does the
  customer leave (attrition: closes the line, never borrows again)?
- no contact: does an item falling due today get paid on time, does an overdue account cure by
  itself today?

Everything depends on the customer's latent type (``forgetful``: reminders work very well;
``unwilling``: little; ``short_of_money``: part payments; ``fraud``: never pays), the channel,
the tone, the local hour, how many contacts the customer had in the last 7 days (fatigue) and
the days past due. Complaints and attrition rise with harshness: firm/formal tone, frequency,
night contacts, third-party contacts.

Every parameter is in the tables below with its source; ``docs/strategy/simulation.md`` shows
them as one table. Numbers marked *assumption* are ours, chosen so that the aggregates match the
evidence of ``domain.md`` §6 (the test ``tests/simulate/test_sim_response.py`` checks that a
pre-due SMS lifts on-time repayment by 7–9 % relative, as in Cadena & Schoar).

Random draws are counter-based (:func:`uniforms`): a draw is a pure function of (seed, day,
customer key, stream), so a customer gets the same draws whatever else is in the batch, and two
strategies run on copies of a book see the same luck (common random numbers).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from overdue.domain.channels import CHANNELS
from overdue.twin.customers import LatentType

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
UIntArray = npt.NDArray[np.uint64]

CHANNEL_INDEX: Final = {name: i for i, name in enumerate(CHANNELS)}
CALL_CHANNELS: Final = frozenset({"voice_robot", "voice_agent"})
TONES: Final = ("friendly", "firm", "formal")
TONE_INDEX: Final = {name: i for i, name in enumerate(TONES)}
TYPES: Final = tuple(t.label for t in LatentType)
MAX_DELAY_DAYS: Final = 10
FATIGUE_WINDOW_DAYS: Final = 7

A: Final = "assumption"
CADENA: Final = "Cadena & Schoar (SMS before due: +7–9 % on-time repayment), calibrated"
CHOI: Final = "Choi et al. NBER 2025 (AI voice recovers less than human callers)"
REG: Final = "domain.md §4 (quiet hours, caps: harshness is what the rules forbid)"


@dataclass(frozen=True)
class Channel:
    """One channel's reach, persuasion, harshness and cost (per attempt)."""

    reach: float  # P(connected): delivered and seen (messages) / answered (calls)
    right_party: float  # P(right party | connected) when the recipient is the debtor
    conversation: bool  # a connected right-party contact is a conversation (Reg F day count)
    persuasion: float  # multiplier of the customer's responsiveness
    complaint: float  # P(complaint) per delivered contact at friendly tone, no fatigue, by day
    attrition: float  # P(customer leaves) per delivered contact, same conditions
    cost_fen: int  # unit cost per attempt (fen)
    source: str


CHANNEL_TABLE: Final[dict[str, Channel]] = {
    "push": Channel(0.60, 1.00, False, 0.55, 0.0001, 0.00005, 1, f"{A}; {CADENA}"),
    "sms": Channel(0.95, 1.00, False, 1.00, 0.0004, 0.0002, 5, f"{A}; {CADENA}"),
    "email": Channel(0.40, 1.00, False, 0.50, 0.0001, 0.00005, 1, A),
    "voice_robot": Channel(0.35, 0.85, True, 0.70, 0.0030, 0.0015, 30, f"{A}; {CHOI}"),
    "voice_agent": Channel(0.40, 0.85, True, 1.00, 0.0040, 0.0020, 400, f"{A}; {CHOI}"),
    "letter": Channel(0.90, 0.95, False, 0.45, 0.0010, 0.0005, 600, A),
    "field_visit": Channel(0.50, 0.80, True, 1.30, 0.0150, 0.0100, 15000, A),
    "agency": Channel(0.40, 0.85, True, 1.10, 0.0080, 0.0060, 2000, A),
    "legal": Channel(0.95, 1.00, False, 1.50, 0.0200, 0.0300, 50000, A),
}


@dataclass(frozen=True)
class TypeResponse:
    """How one latent type pays without contact and answers a contact."""

    on_time: float  # P(item due today is paid on its due date | no reminder)
    forget: float  # share of misses that a reminder can fix (forgot, did not refuse)
    cure_hazard: float  # P(pays the overdue amount on a given day | overdue, no contact)
    reminder_lift: float  # P(a delivered reminder turns a would-be miss into a payment)
    promise: float  # P(promise | conversation)
    keep: float  # P(promise kept)
    part_share: float  # fraction paid when paying (1 = in full)
    delay_mean_days: float  # mean delay from promise to payment
    complaint_multiplier: float
    source: str


TYPE_TABLE: Final[dict[str, TypeResponse]] = {
    "reliable": TypeResponse(0.97, 0.90, 0.20, 0.70, 0.70, 0.90, 1.0, 1.0, 1.0, A),
    "forgetful": TypeResponse(0.72, 0.95, 0.10, 0.95, 0.75, 0.85, 1.0, 1.0, 0.8, f"{A}; {CADENA}"),
    "short_of_money": TypeResponse(0.55, 0.50, 0.03, 0.40, 0.50, 0.55, 0.5, 3.0, 1.2, A),
    "unwilling": TypeResponse(0.85, 0.05, 0.004, 0.05, 0.12, 0.25, 1.0, 4.0, 2.0, A),
    "fraud": TypeResponse(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 0.5, "never pays (twin)"),
}


@dataclass(frozen=True)
class Tone:
    persuasion: float
    complaint: float
    attrition: float
    source: str


TONE_TABLE: Final[dict[str, Tone]] = {
    "friendly": Tone(1.00, 1.0, 1.0, A),
    "firm": Tone(1.10, 2.5, 2.0, f"{A}: harshness backfires (domain.md §6)"),
    "formal": Tone(1.05, 1.6, 1.5, A),
}

FATIGUE_PERSUASION: Final = 0.20  # persuasion × 1/(1 + 0.20 × contacts in the last 7 days)
FATIGUE_COMPLAINT: Final = 0.35  # complaints × (1 + 0.35 × contacts in the last 7 days)
NIGHT_COMPLAINT: Final = 6.0  # contacts outside 08:00–21:00 local (gate should prevent them)
THIRD_PARTY_COMPLAINT: Final = 8.0  # contacts to a third party
DPD_DECAY_DAYS: Final = 60.0  # persuasion × exp(−dpd / 60)
ANSWER_BY_HOUR: Final = (  # calls: relative answer rate by local hour (0–23)
    0.2, 0.1, 0.1, 0.1, 0.1, 0.1, 0.3, 0.6, 0.8, 0.9, 1.0, 1.0,
    1.1, 1.0, 0.9, 0.9, 0.9, 1.0, 1.2, 1.3, 1.2, 1.0, 0.6, 0.3,
)  # fmt: skip
PARAMETER_NOTES: Final = {
    "FATIGUE_PERSUASION": A,
    "FATIGUE_COMPLAINT": f"{A}: frequency is harshness (domain.md §6)",
    "NIGHT_COMPLAINT": f"{A}; {REG}",
    "THIRD_PARTY_COMPLAINT": f"{A}; {REG}",
    "DPD_DECAY_DAYS": A,
    "ANSWER_BY_HOUR": A,
}


# -- counter-based random numbers -----------------------------------------------------------------

_MASK: Final = np.uint64(0xFFFFFFFFFFFFFFFF)


def _splitmix(x: UIntArray) -> UIntArray:
    with np.errstate(over="ignore"):
        z = x + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return (z ^ (z >> np.uint64(31))) & _MASK


def uniforms(seed: int, day: int, keys: IntArray, stream: int) -> FloatArray:
    """Uniform [0, 1) draws, one per key: a pure function of (seed, day, key, stream).

    ``day`` is an ordinal day number, ``keys`` customer (or contact) keys, ``stream`` tells
    apart the draws of one day (connect, promise, payment …).
    """
    base = _splitmix(np.array([seed & 0xFFFFFFFFFFFFFFFF], dtype=np.uint64))
    with np.errstate(over="ignore"):
        step = np.array([day * 1_000_003 + stream], dtype=np.uint64)
        x = base ^ _splitmix(step)
        x = _splitmix(x ^ _splitmix(keys.astype(np.uint64)))
    return (x >> np.uint64(11)).astype(np.float64) / float(1 << 53)


# -- contacts ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ContactInput:
    """One row per sent contact (parallel arrays)."""

    key: IntArray  # contact key (from the contact id) for its random draws
    channel: IntArray  # index into CHANNELS
    tone: IntArray  # index into TONES
    local_hour: IntArray
    recent_contacts: IntArray  # contacts delivered to the customer in the last 7 days
    dpd: IntArray
    latent_type: IntArray  # LatentType value
    third_party: BoolArray


@dataclass(frozen=True)
class ContactOutcome:
    connected: BoolArray
    right_party: BoolArray
    conversation: BoolArray
    promise: BoolArray
    pays: BoolArray  # pays (now or after the delay) because of this contact
    pay_share: FloatArray  # fraction of what is due paid (1.0 = in full)
    delay_days: IntArray
    complaint: BoolArray
    attrition: BoolArray


def _column(table: dict[str, Channel] | dict[str, Tone], attr: str) -> FloatArray:
    return np.array([float(getattr(row, attr)) for row in table.values()])


def _type_column(attr: str) -> FloatArray:
    return np.array([float(getattr(TYPE_TABLE[name], attr)) for name in TYPES])


def respond(contacts: ContactInput, seed: int, day: int) -> ContactOutcome:
    """The customers' answers to one day's sent contacts (vectorised)."""
    c, t, k = contacts.channel, contacts.tone, contacts.latent_type
    n = c.size
    draw = [uniforms(seed, day, contacts.key, stream) for stream in range(8)]
    hour = np.clip(contacts.local_hour, 0, 23)
    is_call = np.isin(c, [CHANNEL_INDEX[name] for name in CALL_CHANNELS])
    answer = np.where(is_call, np.array(ANSWER_BY_HOUR)[hour], 1.0)
    reach = np.clip(_column(CHANNEL_TABLE, "reach")[c] * answer, 0.0, 1.0)
    connected = draw[0] < reach
    rpc = np.where(contacts.third_party, 0.0, _column(CHANNEL_TABLE, "right_party")[c])
    right_party = connected & (draw[1] < rpc)
    talks = np.array([CHANNEL_TABLE[name].conversation for name in CHANNELS])[c]
    conversation = right_party & talks
    fatigue = np.maximum(contacts.recent_contacts, 0)
    persuasion = (
        _column(CHANNEL_TABLE, "persuasion")[c]
        * _column(TONE_TABLE, "persuasion")[t]
        / (1.0 + FATIGUE_PERSUASION * fatigue)
        * np.exp(-np.maximum(contacts.dpd, 0) / DPD_DECAY_DAYS)
    )
    p_promise = np.clip(_type_column("promise")[k] * persuasion, 0.0, 0.98)
    promise = conversation & (draw[2] < p_promise)
    keep = _type_column("keep")[k]
    p_message = np.clip(_type_column("reminder_lift")[k] * persuasion, 0.0, 0.98)
    pays = np.where(conversation, promise & (draw[3] < keep), right_party & (draw[3] < p_message))
    share = _type_column("part_share")[k]
    pay_share = np.where(share < 1.0, np.clip(share + 0.4 * (draw[4] - 0.5), 0.1, 1.0), 1.0)
    delay_mean = _type_column("delay_mean_days")[k]
    delay = np.minimum(np.floor(-np.log1p(-draw[5]) * delay_mean), MAX_DELAY_DAYS).astype(np.int64)
    delay = np.where(promise, np.maximum(delay, 0), 0)
    night = (hour < 8) | (hour >= 21)
    harsh = (
        _column(TONE_TABLE, "complaint")[t]
        * (1.0 + FATIGUE_COMPLAINT * fatigue)
        * np.where(night, NIGHT_COMPLAINT, 1.0)
        * np.where(contacts.third_party, THIRD_PARTY_COMPLAINT, 1.0)
    )
    p_complaint = np.clip(
        _column(CHANNEL_TABLE, "complaint")[c] * harsh * _type_column("complaint_multiplier")[k],
        0.0,
        0.5,
    )
    complaint = connected & (draw[6] < p_complaint)
    leave_harsh = harsh / _column(TONE_TABLE, "complaint")[t] * _column(TONE_TABLE, "attrition")[t]
    p_attrition = np.clip(_column(CHANNEL_TABLE, "attrition")[c] * leave_harsh, 0.0, 0.5)
    attrition = connected & (draw[7] < p_attrition)
    assert pays.shape == (n,) and not np.any(pays & ~right_party)
    return ContactOutcome(
        connected=connected,
        right_party=right_party,
        conversation=conversation,
        promise=promise,
        pays=pays,
        pay_share=np.where(pays, pay_share, 0.0),
        delay_days=delay,
        complaint=complaint,
        attrition=attrition,
    )


# -- no contact ----------------------------------------------------------------------------------


def pays_on_due_date(
    latent_type: IntArray, reminded: BoolArray, seed: int, day: int, keys: IntArray
) -> BoolArray:
    """Whether an item falling due today is paid today (reminded: a delivered pre-due reminder).

    A reminder rescues the forgetful part of the misses: P = on_time + (1 − on_time) × forget ×
    reminder_lift; it cannot make the short of money rich, nor the unwilling willing.
    """
    on_time = _type_column("on_time")[latent_type]
    rescue = (1.0 - on_time) * _type_column("forget")[latent_type]
    p = on_time + np.where(reminded, rescue * _type_column("reminder_lift")[latent_type], 0.0)
    return uniforms(seed, day, keys, 100) < p


def cures_today(
    latent_type: IntArray, dpd: IntArray, seed: int, day: int, keys: IntArray
) -> BoolArray:
    """Whether an overdue account pays by itself today (no contact); the hazard fades with DPD."""
    hazard = _type_column("cure_hazard")[latent_type] * np.exp(-np.maximum(dpd, 0) / 90.0)
    return uniforms(seed, day, keys, 101) < hazard


def self_pay_share(latent_type: IntArray, seed: int, day: int, keys: IntArray) -> FloatArray:
    """Fraction of what is due paid by a paying customer (short of money pays part)."""
    share = _type_column("part_share")[latent_type]
    jitter = uniforms(seed, day, keys, 102) - 0.5
    return np.where(share < 1.0, np.clip(share + 0.4 * jitter, 0.1, 1.0), 1.0)


def parameter_rows() -> list[dict[str, str]]:
    """Every parameter with its value and source (for the docs and ``summary.json``)."""
    rows: list[dict[str, str]] = []
    for name, ch in CHANNEL_TABLE.items():
        for attr in ("reach", "right_party", "persuasion", "complaint", "attrition", "cost_fen"):
            rows.append({"table": "channel", "row": name, "parameter": attr,
                         "value": str(getattr(ch, attr)), "source": ch.source})  # fmt: skip
    for name, ty in TYPE_TABLE.items():
        for attr in ("on_time", "forget", "cure_hazard", "reminder_lift", "promise", "keep",
                     "part_share", "delay_mean_days", "complaint_multiplier"):  # fmt: skip
            rows.append({"table": "latent type", "row": name, "parameter": attr,
                         "value": str(getattr(ty, attr)), "source": ty.source})  # fmt: skip
    for name, tone in TONE_TABLE.items():
        for attr in ("persuasion", "complaint", "attrition"):
            rows.append({"table": "tone", "row": name, "parameter": attr,
                         "value": str(getattr(tone, attr)), "source": tone.source})  # fmt: skip
    scalars = {
        "FATIGUE_PERSUASION": FATIGUE_PERSUASION,
        "FATIGUE_COMPLAINT": FATIGUE_COMPLAINT,
        "NIGHT_COMPLAINT": NIGHT_COMPLAINT,
        "THIRD_PARTY_COMPLAINT": THIRD_PARTY_COMPLAINT,
        "DPD_DECAY_DAYS": DPD_DECAY_DAYS,
        "ANSWER_BY_HOUR": ANSWER_BY_HOUR,
    }
    for name, value in scalars.items():
        rows.append({"table": "global", "row": "", "parameter": name, "value": str(value),
                     "source": PARAMETER_NOTES[name]})  # fmt: skip
    return rows
