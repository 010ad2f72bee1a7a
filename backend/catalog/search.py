"""In-memory ranked search over the matter catalog (事项目录).

Citizens at a kiosk and staff at a window look matters up by Chinese text
("施工许可"), by full pinyin ("qiye", "qi ye") or by pinyin initials ("qysl").
The catalog is small (a few thousand matters), so everything is precomputed
once into plain lower-case strings and a query is a few linear passes of
C-level substring tests: one prefilter pass over a per-entry haystack, then
one pass per ranking tier (highest first) over the entries not yet placed,
stopping as soon as ``limit`` hits are certain.  No regular expressions run
per entry.

Query normalisation
    NFKC (full-width letters, digits and spaces become half-width), lower case,
    control characters dropped, split on whitespace.  Each term must match the
    matter (AND).  When every term is Latin letters/digits, the terms joined
    without spaces are tried as one pinyin term as well ("qi ye" -> "qiye") and
    the better of the two readings counts.

Ranking (higher score first); a term scores its best match:

    ====  ==================================================  ===============
    1000  code equals the term / name equals the term          code / name
     900  name starts with the term                            name_prefix
     850  an alias (别名: old name, everyday word) equals it    alias
     800  name contains the term                               name_substring
     780  an alias contains the term                           alias
     750  code starts with the term                            code_prefix
     720  a keyword equals the term                            keyword
     700  a keyword contains the term                          keyword
     650  a life event (生活事件) contains the term             life_event
     600  full name pinyin starts with the term                pinyin
     580  an alias's pinyin starts with the term               alias_pinyin
     550  full name pinyin contains the term at a syllable      pinyin
     530  an alias's pinyin contains it at a syllable          alias_pinyin
     520  a keyword's pinyin starts with the term              keyword_pinyin
     500  a keyword's pinyin contains it at a syllable         keyword_pinyin
     450  name initials start with the term                    initials
     420  an alias's initials start with the term              alias_pinyin
     400  name initials contain the term                       initials
     380  a keyword's initials start with the term             keyword_pinyin
     300  department code equals / department name contains   department
     250  department name pinyin or initials start with it     department
    ====  ==================================================  ===============

A multi-term query scores the mean of its terms, and ``matched`` names the
weakest term's match.  Ties go to the shorter name (the more specific matter),
then to the code.  Pinyin substrings must start on a syllable so that "an"
does not match every "jian"/"guan"; initials have one letter per syllable, so
any position is a syllable start there.

Heteronyms: names are converted phrase-aware (银行 -> yinhang).  For every
character with other readings one variant per alternative reading is kept
(capped), so 重庆 is found by "chongqing" and "zhongqing" alike; because
pypinyin also knows rare readings, variants count only for terms of 4+
letters and score 10 below the same match on the usual reading.

An empty query returns the (filtered) catalog ordered by code.
"""

from __future__ import annotations

import enum
import heapq
import re
import unicodedata
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from functools import cache, lru_cache

from pypinyin import Style, lazy_pinyin, pinyin

__all__ = ["CatalogIndex", "MatchKind", "SearchEntry", "SearchHit", "normalize_query"]


@dataclass(frozen=True)
class SearchEntry:
    """What the index needs to know about one matter."""

    matter_id: int
    code: str
    name: str
    department: str
    department_name: str
    type: str
    keywords: tuple[str, ...] = ()
    life_events: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()


class MatchKind(enum.StrEnum):
    """Which part of the matter a hit was found in (``SearchHit.matched``)."""

    CODE = "code"
    CODE_PREFIX = "code_prefix"
    NAME = "name"
    NAME_PREFIX = "name_prefix"
    NAME_SUBSTRING = "name_substring"
    ALIAS = "alias"
    ALIAS_PINYIN = "alias_pinyin"
    KEYWORD = "keyword"
    LIFE_EVENT = "life_event"
    PINYIN = "pinyin"
    KEYWORD_PINYIN = "keyword_pinyin"
    INITIALS = "initials"
    DEPARTMENT = "department"
    #: Empty query: the hit is simply part of the (filtered) catalog.
    ALL = ""


@dataclass(frozen=True)
class SearchHit:
    matter_id: int
    code: str
    name: str
    score: int
    matched: str


# Scores of the ranking table in the module docstring.
_CODE_EXACT = 1000
_NAME_EXACT = 1000
_NAME_PREFIX = 900
_ALIAS_EXACT = 850
_NAME_SUBSTRING = 800
_ALIAS_SUBSTRING = 780
_CODE_PREFIX = 750
_KEYWORD_EXACT = 720
_KEYWORD_SUBSTRING = 700
_LIFE_EVENT = 650
_PINYIN_PREFIX = 600
_ALIAS_PINYIN_PREFIX = 580
_PINYIN_SYLLABLE = 550
_ALIAS_PINYIN_SYLLABLE = 530
_KEYWORD_PINYIN_PREFIX = 520
_KEYWORD_PINYIN_SYLLABLE = 500
_INITIALS_PREFIX = 450
_ALIAS_INITIALS_PREFIX = 420
_INITIALS_SUBSTRING = 400
_KEYWORD_INITIALS_PREFIX = 380
_DEPARTMENT_TEXT = 300
_DEPARTMENT_PINYIN = 250

# One alternative reading per heteronym character, at most this many per text:
# enough for the usual one misread character, bounded for long names.
_MAX_PINYIN_VARIANTS = 8
# pypinyin also lists rare readings (核 -> kai), so a variant reading counts
# only for terms long enough to be deliberate ("zhongqing", "zqyh"), and it
# ranks just below the same match on the usual reading.
_MIN_VARIANT_TERM = 4
_VARIANT_PENALTY = 10

# Separates the fields in the prefilter haystack; normalised queries never
# contain control characters, so a term can never match across two fields.
_FIELD_SEPARATOR = "\x00"

_HAN_OR_ALNUM_RUN = re.compile(
    r"(?P<han>[\u3007\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f]+)"
    r"|(?P<alnum>[0-9a-z]+)"
)


def normalize_query(text: str) -> str:
    """Fold *text* the way both queries and indexed strings are compared."""
    folded = unicodedata.normalize("NFKC", text).lower()
    if folded.isprintable():
        return folded.strip()
    # Tabs/newlines become spaces (term separators); other controls vanish.
    return "".join(
        " " if char.isspace() else char for char in folded if char.isprintable() or char.isspace()
    ).strip()


@dataclass(frozen=True, slots=True)
class _PinyinForm:
    """One reading of a text: syllables run together, plus initials."""

    full: str
    initials: str
    # Every suffix of ``full`` that begins on a syllable, each led by the field
    # separator: "term starts on a syllable" becomes one C-level ``in`` test
    # of separator + term.
    syllable_suffixes: str


@cache
def _character_readings(character: str) -> tuple[str, ...]:
    """All toneless readings of one Han character, most common first."""
    readings = pinyin(character, style=Style.NORMAL, heteronym=True)[0]
    return tuple(dict.fromkeys(reading for reading in readings if reading.isascii()))


def _han_syllables(run: str) -> list[str]:
    """Phrase-aware readings of a run of Han characters, one per character."""
    syllables = lazy_pinyin(run, style=Style.NORMAL)
    if len(syllables) == len(run) and all(syllable.isascii() for syllable in syllables):
        return syllables
    # Characters pypinyin does not know come back unconverted (sometimes
    # grouped); fall back to per-character readings, keeping the character.
    return [(_character_readings(char) or (char,))[0] for char in run]


def _form_from_tokens(tokens: list[str], han_flags: list[bool]) -> _PinyinForm:
    full = "".join(tokens)
    suffixes: list[str] = []
    offset = 0
    for token in tokens:
        suffixes.append(full[offset:])
        offset += len(token)
    initials = "".join(
        token[0] if is_han else token for token, is_han in zip(tokens, han_flags, strict=True)
    )
    return _PinyinForm(
        full=full,
        initials=initials,
        syllable_suffixes="".join(_FIELD_SEPARATOR + suffix for suffix in suffixes),
    )


@lru_cache(maxsize=65536)
def _pinyin_forms(text: str) -> tuple[_PinyinForm, ...]:
    """Primary reading of normalised *text* first, then heteronym variants."""
    tokens: list[str] = []
    han_flags: list[bool] = []
    han_characters: list[tuple[int, str]] = []  # (token index, character)
    for match in _HAN_OR_ALNUM_RUN.finditer(text):
        han_run = match.group("han")
        if han_run is None:
            tokens.append(match.group("alnum"))
            han_flags.append(False)
            continue
        for character, syllable in zip(han_run, _han_syllables(han_run), strict=True):
            han_characters.append((len(tokens), character))
            tokens.append(syllable)
            han_flags.append(True)
    if not tokens:
        return ()
    forms = [_form_from_tokens(tokens, han_flags)]
    seen = {forms[0].full}
    for token_index, character in han_characters:
        for reading in _character_readings(character):
            if len(forms) > _MAX_PINYIN_VARIANTS:
                return tuple(forms)
            variant = tokens.copy()
            variant[token_index] = reading
            form = _form_from_tokens(variant, han_flags)
            if form.full not in seen:
                seen.add(form.full)
                forms.append(form)
    return tuple(forms)


def _joined(parts: Iterable[str]) -> str:
    return _FIELD_SEPARATOR.join(parts)


_Score = tuple[int, MatchKind]
_MISS: _Score = (0, MatchKind.ALL)


_ASCII_ALNUM_RUN = re.compile(r"[0-9a-z]+")


def _ascii_runs(texts: Iterable[str]) -> list[str]:
    return [run for text in texts for run in _ASCII_ALNUM_RUN.findall(text)]


# eq=False: entries are dict keys while scoring, and identity hashing is
# far cheaper than hashing every precomputed field.
@dataclass(frozen=True, slots=True, eq=False)
class _IndexedEntry:
    """A SearchEntry with every comparable string precomputed.

    Haystacks are separator-joined unions of fields: a term absent from the
    right haystack cannot match those fields, which one C-level substring
    search decides.  Latin terms (letters/digits) are only ever looked for in
    pure-ASCII haystacks, which CPython scans several times faster than
    strings holding Han characters.
    """

    entry: SearchEntry
    code: str
    name: str
    keywords: tuple[str, ...]
    life_events: tuple[str, ...]
    aliases: tuple[str, ...]
    department: str
    department_name: str
    # Primary (phrase-aware) reading; None when the name has no Han or alnum.
    name_pinyin: _PinyinForm | None
    # Heteronym readings of the name, consulted only for long enough terms.
    name_pinyin_variants: tuple[_PinyinForm, ...]
    keyword_pinyin: tuple[_PinyinForm, ...]
    alias_pinyin: tuple[_PinyinForm, ...]
    # Separator + department name pinyin and initials: prefix tests.
    department_pinyin_starts: str
    # Code, name, aliases, keywords and life events as written (tiers 1000-650)...
    text_haystack: str
    # ... and only their ASCII letter/digit runs, for Latin terms.
    latin_text_haystack: str
    # Everything a non-Latin / a Latin term can match anywhere.
    haystack: str
    latin_haystack: str

    @classmethod
    def of(cls, entry: SearchEntry) -> _IndexedEntry:
        code = normalize_query(entry.code)
        name = normalize_query(entry.name)
        keywords = tuple(normalize_query(keyword) for keyword in entry.keywords)
        life_events = tuple(normalize_query(event) for event in entry.life_events)
        aliases = tuple(normalize_query(alias) for alias in entry.aliases)
        department = normalize_query(entry.department)
        department_name = normalize_query(entry.department_name)
        name_forms = _pinyin_forms(name)
        # Keywords and department names are matched on their primary reading
        # only: they rank low anyway, and rare readings there add only noise.
        keyword_pinyin = tuple(forms[0] for forms in map(_pinyin_forms, keywords) if forms)
        # Aliases likewise: each is a name on its own, usually read one way.
        alias_pinyin = tuple(forms[0] for forms in map(_pinyin_forms, aliases) if forms)
        department_pinyin = _pinyin_forms(department_name)[:1]
        department_pinyin_starts = "".join(
            _FIELD_SEPARATOR + text
            for form in department_pinyin
            for text in (form.full, form.initials)
        )
        text_fields = (code, name, *aliases, *keywords, *life_events)
        latin_text_haystack = _joined(_ascii_runs(text_fields))
        latin_haystack = _joined(
            (
                latin_text_haystack,
                *(
                    text
                    for form in (*name_forms, *alias_pinyin, *keyword_pinyin)
                    for text in (form.full, form.initials)
                ),
                *_ascii_runs((department, department_name)),
                department_pinyin_starts,
            )
        )
        text_haystack = _joined(text_fields)
        return cls(
            entry=entry,
            code=code,
            name=name,
            keywords=keywords,
            life_events=life_events,
            aliases=aliases,
            department=department,
            department_name=department_name,
            name_pinyin=name_forms[0] if name_forms else None,
            name_pinyin_variants=name_forms[1:],
            keyword_pinyin=keyword_pinyin,
            alias_pinyin=alias_pinyin,
            department_pinyin_starts=department_pinyin_starts,
            text_haystack=text_haystack,
            latin_text_haystack=latin_text_haystack,
            haystack=_joined((text_haystack, department, department_name)),
            latin_haystack=latin_haystack,
        )


_Predicate = Callable[[_IndexedEntry, str], bool]


def _primary_full(item: _IndexedEntry) -> str:
    return item.name_pinyin.full if item.name_pinyin else ""


def _primary_syllables(item: _IndexedEntry) -> str:
    return item.name_pinyin.syllable_suffixes if item.name_pinyin else ""


def _primary_initials(item: _IndexedEntry) -> str:
    return item.name_pinyin.initials if item.name_pinyin else ""


@dataclass(frozen=True, slots=True)
class _Tier:
    score: int
    kind: MatchKind
    matches: _Predicate
    #: Heteronym variant tiers apply only to terms this long or longer.
    min_length: int = 1


@dataclass(frozen=True, slots=True)
class _TierGroup:
    """Tiers sharing one cheap superset test, highest score first."""

    might_match: _Predicate
    tiers: tuple[_Tier, ...]
    #: True: Latin terms only; False: other terms only; None: every term.
    for_latin: bool | None = None


def _marker(term: str) -> str:
    return _FIELD_SEPARATOR + term


_TEXT_TIERS = (
    _Tier(_CODE_EXACT, MatchKind.CODE, lambda item, term: term == item.code),
    _Tier(_NAME_EXACT, MatchKind.NAME, lambda item, term: term == item.name),
    _Tier(_NAME_PREFIX, MatchKind.NAME_PREFIX, lambda item, term: item.name.startswith(term)),
    _Tier(_ALIAS_EXACT, MatchKind.ALIAS, lambda item, term: term in item.aliases),
    _Tier(_NAME_SUBSTRING, MatchKind.NAME_SUBSTRING, lambda item, term: term in item.name),
    _Tier(
        _ALIAS_SUBSTRING,
        MatchKind.ALIAS,
        lambda item, term: any(term in alias for alias in item.aliases),
    ),
    _Tier(_CODE_PREFIX, MatchKind.CODE_PREFIX, lambda item, term: item.code.startswith(term)),
    _Tier(_KEYWORD_EXACT, MatchKind.KEYWORD, lambda item, term: term in item.keywords),
    _Tier(
        _KEYWORD_SUBSTRING,
        MatchKind.KEYWORD,
        lambda item, term: any(term in keyword for keyword in item.keywords),
    ),
    _Tier(
        _LIFE_EVENT,
        MatchKind.LIFE_EVENT,
        lambda item, term: any(term in event for event in item.life_events),
    ),
)

# Highest scores first.  Tiers never share a score range across groups, so
# the first tier an entry satisfies is its best score for the term.
_TIER_GROUPS = (
    _TierGroup(lambda item, term: term in item.text_haystack, _TEXT_TIERS, for_latin=False),
    _TierGroup(lambda item, term: term in item.latin_text_haystack, _TEXT_TIERS, for_latin=True),
    _TierGroup(
        lambda item, term: True,
        (
            _Tier(
                _PINYIN_PREFIX,
                MatchKind.PINYIN,
                lambda item, term: _primary_full(item).startswith(term),
            ),
            _Tier(
                _PINYIN_PREFIX - _VARIANT_PENALTY,
                MatchKind.PINYIN,
                lambda item, term: any(
                    form.full.startswith(term) for form in item.name_pinyin_variants
                ),
                _MIN_VARIANT_TERM,
            ),
            _Tier(
                _ALIAS_PINYIN_PREFIX,
                MatchKind.ALIAS_PINYIN,
                lambda item, term: any(form.full.startswith(term) for form in item.alias_pinyin),
            ),
            _Tier(
                _PINYIN_SYLLABLE,
                MatchKind.PINYIN,
                lambda item, term: _marker(term) in _primary_syllables(item),
            ),
            _Tier(
                _PINYIN_SYLLABLE - _VARIANT_PENALTY,
                MatchKind.PINYIN,
                lambda item, term: any(
                    _marker(term) in form.syllable_suffixes for form in item.name_pinyin_variants
                ),
                _MIN_VARIANT_TERM,
            ),
            _Tier(
                _ALIAS_PINYIN_SYLLABLE,
                MatchKind.ALIAS_PINYIN,
                lambda item, term: any(
                    _marker(term) in form.syllable_suffixes for form in item.alias_pinyin
                ),
            ),
            _Tier(
                _KEYWORD_PINYIN_PREFIX,
                MatchKind.KEYWORD_PINYIN,
                lambda item, term: any(form.full.startswith(term) for form in item.keyword_pinyin),
            ),
            _Tier(
                _KEYWORD_PINYIN_SYLLABLE,
                MatchKind.KEYWORD_PINYIN,
                lambda item, term: any(
                    _marker(term) in form.syllable_suffixes for form in item.keyword_pinyin
                ),
            ),
            _Tier(
                _INITIALS_PREFIX,
                MatchKind.INITIALS,
                lambda item, term: _primary_initials(item).startswith(term),
            ),
            _Tier(
                _INITIALS_PREFIX - _VARIANT_PENALTY,
                MatchKind.INITIALS,
                lambda item, term: any(
                    form.initials.startswith(term) for form in item.name_pinyin_variants
                ),
                _MIN_VARIANT_TERM,
            ),
            _Tier(
                _ALIAS_INITIALS_PREFIX,
                MatchKind.ALIAS_PINYIN,
                lambda item, term: any(
                    form.initials.startswith(term) for form in item.alias_pinyin
                ),
            ),
            _Tier(
                _INITIALS_SUBSTRING,
                MatchKind.INITIALS,
                lambda item, term: term in _primary_initials(item),
            ),
            _Tier(
                _INITIALS_SUBSTRING - _VARIANT_PENALTY,
                MatchKind.INITIALS,
                lambda item, term: any(term in form.initials for form in item.name_pinyin_variants),
                _MIN_VARIANT_TERM,
            ),
            _Tier(
                _KEYWORD_INITIALS_PREFIX,
                MatchKind.KEYWORD_PINYIN,
                lambda item, term: any(
                    form.initials.startswith(term) for form in item.keyword_pinyin
                ),
            ),
        ),
        for_latin=True,
    ),
    _TierGroup(
        lambda item, term: True,
        (
            _Tier(
                _DEPARTMENT_TEXT,
                MatchKind.DEPARTMENT,
                lambda item, term: term == item.department or term in item.department_name,
            ),
            _Tier(
                _DEPARTMENT_PINYIN,
                MatchKind.DEPARTMENT,
                lambda item, term: _marker(term) in item.department_pinyin_starts,
            ),
        ),
    ),
)


def _is_latin(term: str) -> bool:
    return term.isascii() and term.isalnum()


def _score_term(
    candidates: list[_IndexedEntry], term: str, enough: int | None
) -> dict[_IndexedEntry, _Score]:
    """Best score of *term* for every candidate it matches.

    Tiers are evaluated highest first, each as one pass over the entries not
    yet placed.  With *enough*, stop once that many entries are placed: every
    later tier scores strictly less, so it cannot enter a top-*enough* list,
    and ties inside the finished tiers are all present.
    """
    latin = _is_latin(term)
    # Cheap C-level prefilter; for specific terms most entries fail here.
    if latin:
        remaining = [item for item in candidates if term in item.latin_haystack]
    else:
        remaining = [item for item in candidates if term in item.haystack]
    found: dict[_IndexedEntry, _Score] = {}
    for group in _TIER_GROUPS:
        if group.for_latin is not None and group.for_latin != latin:
            continue
        might_match = group.might_match
        in_group = [item for item in remaining if might_match(item, term)]
        for tier in group.tiers:
            if not in_group:
                break
            if len(term) < tier.min_length:
                continue
            matches = tier.matches
            hits = [item for item in in_group if matches(item, term)]
            if not hits:
                continue
            score = (tier.score, tier.kind)
            for item in hits:
                found[item] = score
            if enough is not None and len(found) >= enough:
                return found
            in_group = [item for item in in_group if item not in found]
        remaining = [item for item in remaining if item not in found]
    return found


class CatalogIndex:
    """Immutable search index over a catalog snapshot; rebuild on change."""

    def __init__(self, entries: list[_IndexedEntry]) -> None:
        # Entries are kept in code order so that "ordered by code" is free.
        self._entries = entries
        self._by_department = self._positions_by(lambda entry: (entry.department,))
        self._by_type = self._positions_by(lambda entry: (entry.type,))
        self._by_life_event = self._positions_by(lambda entry: entry.life_events)

    @classmethod
    def build(cls, entries: Iterable[SearchEntry]) -> CatalogIndex:
        indexed = [_IndexedEntry.of(entry) for entry in entries]
        indexed.sort(key=lambda item: (item.entry.code, item.entry.matter_id))
        return cls(indexed)

    def __len__(self) -> int:
        return len(self._entries)

    def _positions_by(
        self, keys_of: Callable[[SearchEntry], Iterable[str]]
    ) -> dict[str, frozenset[int]]:
        """Filter value -> positions of the entries carrying it."""
        positions: dict[str, set[int]] = {}
        for position, item in enumerate(self._entries):
            for key in keys_of(item.entry):
                positions.setdefault(key, set()).add(position)
        return {key: frozenset(found) for key, found in positions.items()}

    def search(
        self,
        query: str,
        *,
        department: str | None = None,
        type: str | None = None,
        life_event: str | None = None,
        limit: int = 20,
        codes: Collection[str] | None = None,
    ) -> list[SearchHit]:
        """Best matches for *query* among matters passing every given filter.

        Filters compare exactly: *department* is the department code, *type*
        the 事项类型 value, *life_event* one of the matter's 生活事件; *codes*,
        when given, the matters to choose from (those one hall handles).
        """
        if limit <= 0:
            return []
        candidates = self._filtered(department, type, life_event)
        if codes is not None:
            candidates = [item for item in candidates if item.entry.code in codes]
        terms = normalize_query(query).split()
        if not terms:
            return [_hit(item, _MISS) for item in candidates[:limit]]

        if len(terms) == 1:
            scored = _score_term(candidates, terms[0], enough=limit)
        else:
            scored = _score_all_terms(candidates, terms)
            if all(_is_latin(term) for term in terms):
                # "qi ye" is most likely one pinyin word typed with a space.
                for item, score in _score_term(candidates, "".join(terms), None).items():
                    if score[0] > scored.get(item, _MISS)[0]:
                        scored[item] = score

        ranked = heapq.nsmallest(
            limit,
            scored.items(),
            key=lambda pair: (-pair[1][0], len(pair[0].name), pair[0].entry.code),
        )
        return [_hit(item, score) for item, score in ranked]

    def _filtered(
        self, department: str | None, type_: str | None, life_event: str | None
    ) -> list[_IndexedEntry]:
        selections = [
            postings.get(value, frozenset())
            for postings, value in (
                (self._by_department, department),
                (self._by_type, type_),
                (self._by_life_event, life_event),
            )
            if value is not None
        ]
        if not selections:
            return self._entries
        positions = frozenset.intersection(*selections)
        return [self._entries[position] for position in sorted(positions)]


def _score_all_terms(
    candidates: list[_IndexedEntry], terms: list[str]
) -> dict[_IndexedEntry, _Score]:
    """Entries matching every term, scored by the mean of the term scores.

    The kind reported is the weakest term's: it is what limited the rank.
    """
    survivors = candidates
    for term in terms:
        # Substring prefilter for every term before any tier work: the AND of
        # two broad terms ("shi pin") is usually narrow.
        if _is_latin(term):
            survivors = [item for item in survivors if term in item.latin_haystack]
        else:
            survivors = [item for item in survivors if term in item.haystack]
    per_term: list[dict[_IndexedEntry, _Score]] = []
    for term in terms:
        scores = _score_term(survivors, term, enough=None)
        per_term.append(scores)
        survivors = [item for item in survivors if item in scores]
    combined: dict[_IndexedEntry, _Score] = {}
    for item in survivors:
        term_scores = [scores[item] for scores in per_term]
        weakest_kind = min(term_scores, key=lambda score: score[0])[1]
        combined[item] = (sum(score for score, _ in term_scores) // len(terms), weakest_kind)
    return combined


def _hit(item: _IndexedEntry, score: _Score) -> SearchHit:
    entry = item.entry
    return SearchHit(entry.matter_id, entry.code, entry.name, score[0], str(score[1]))
