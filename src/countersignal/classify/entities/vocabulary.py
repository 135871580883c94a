"""Words that are too common to identify anyone on their own.

Arabic names of the form ``Abd al-<one of the names of God>`` and ``Abu <common name>`` are
shared by very many people, so those name parts are listed too.

An alias made only of these (after normalisation), or a one-word alias shorter than
``MIN_ALONE_CHARS``, is *weak*: it is reported only when a strong alias of the same designation
is also in the text. The lists are deliberately small and generic — ordinary English function
and organisation words and the most frequent Arabic name parts — not anything list-specific.
"""

from __future__ import annotations

from rapidfuzz import fuzz, process

from countersignal.classify.entities.normalise import soft

MIN_ALONE_CHARS = 6

_COMMON_WORDS_TEXT = """
a an and are as at be but by for from has have he her his in is it its of on or our she so
that the their they this to was we were will with you your not no new one two three all any
let mid set top base group company corporation corp ltd limited co inc sa s bank trading trade
international national general state states office organisation organization foundation
charity trust fund society association union council committee agency institute industries
industry industrial establishment enterprise services service import export shipping air
airline airlines army front movement party brigade brigades battalion regiment youth
martyrs holy islamic islam jihad army network mission center centre branch branches
aid relief development construction engineering electrical electric technology
research university school east west north south the republic democratic people peoples
"""

_COMMON_NAME_PARTS_TEXT = """
al el ul ad ar as at ash an az ud ur ed er es abu abou abi abo bin ben ibn bint abd abdul
abdel abdal abdu abdullah abdallah abdulla muhammad mohammad mohammed mohamed muhammed
mohamad mohd ahmad ahmed ali omar umar hasan hassan husayn hussein husain hussain ibrahim
yusuf yousef yousuf youssef ismail khalid khaled mahmud mahmoud mustafa mostafa said saeed
sayed sayyid salim salem karim aziz rahman rahim jamal kamal adel adil anas bakr hamza
hamid hamad amir emir sheikh shaykh shaikh mullah mulla maulavi mawlawi maulana haji hajji
agha khan jan gul shah mir musa isa yahya yahia zakaria othman uthman usman osman
abdur abdus abdi abdo ullah ulla allah illah ilah obeida ubaida ubaydah obaidah hafs talha
zubair dujana musab qatada huraira hurayra ubaidah ubaydah salih saleh sulaiman suleiman
sulayman suliman souleiman abdellah abdalla abdella yasin yassin yasir yaser hisham faisal
fahd tariq ziad walid nabil sami samir turki fathi fethi monir munir awad awwad dawood dawud
daud idris ilyas jafar jaafar hamdi hadi mansur nasir nasser qasim kasim rashid sharif
malik quddus salam jabbar khaliq bari ghaffar qahhar wahhab razzaq fattah alim basit hafiz
latif halim azim ghafur shakur kabir hakim wadud majid haqq wakil hayy qayyum wahid ahad
samad qadir qader muqtadir awwal akhir zahir batin wali barr tawwab rauf ghani nur noor hadi
badi baqi rashid sabur basir baseer jalil sattar
"""

COMMON_WORDS = frozenset(_COMMON_WORDS_TEXT.split())
COMMON_NAME_PARTS = frozenset(_COMMON_NAME_PARTS_TEXT.split())


_ABD_PREFIXES = ("abdul", "abdel", "abdal", "abdur", "abder", "abdus", "abdu", "abd")
_COMMON_SOFT = sorted({soft(w) for w in COMMON_NAME_PARTS if len(w) > 2})


def is_common_token(token: str) -> bool:
    """A common word or name part, allowing spelling variants (Rehman/Rahman, Hamsa/Hamza)
    and joined ``Abd``-names (Abdurrahman, Abdelkader)."""
    if token in COMMON_WORDS or token in COMMON_NAME_PARTS or token.isdigit():
        return True
    for prefix in _ABD_PREFIXES:
        if token.startswith(prefix) and len(token) > len(prefix) + 2:
            rest = token[len(prefix):]
            return is_common_token(rest) or is_common_token(rest[1:])
    if len(token) < 4:
        return False
    return process.extractOne(soft(token), _COMMON_SOFT, scorer=fuzz.ratio,
                              score_cutoff=85) is not None


def is_weak_alias(normalised: str, quality: str) -> bool:
    """True when an alias must not raise a mention by itself."""
    if quality == "low":
        return True
    tokens = normalised.split()
    if not tokens:
        return True
    letters = sum(len(t) for t in tokens)
    if len(tokens) == 1 and letters < MIN_ALONE_CHARS:
        return True
    if letters < 5:
        return True
    return all(is_common_token(t) for t in tokens)
