"""Tag schemes (IOB1, IOB2, BIOES, BMES, BILOU, IO): detection, decoding to spans, encoding.

Everything that turns tags into spans or spans into tags lives here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

SCHEMES = ("iob1", "iob2", "bioes", "bmes", "bilou", "io")
# BMES (Chinese corpora) is BIOES with M- (middle) for I-; BMEO is the same tags without S-.
ALIASES = {"bio": "iob2", "iobes": "bioes", "biluo": "bilou", "bmeo": "bmes", "bmeso": "bmes"}
WRITABLE_SCHEMES = ("iob2", "iob1", "bioes", "bmes", "bilou")
_PREFIXES = {
    "iob1": frozenset("BI"),
    "iob2": frozenset("BI"),
    "io": frozenset("I"),
    "bioes": frozenset("BIES"),
    "bmes": frozenset("BMES"),
    "bilou": frozenset("BILU"),
}
_ALL_PREFIXES = frozenset("BIESLUM")


@dataclass(frozen=True)
class WordSpan:
    """Words ``[start, end)`` of a sentence carrying ``label``."""

    start: int
    end: int
    label: str


class TagError(ValueError):
    """A tag that cannot be read; ``position`` is its index in the sentence."""

    def __init__(self, position: int, message: str):
        self.position = position
        super().__init__(message)


def normalize_scheme(name: str) -> str:
    """Map a user-given scheme name (any case, common aliases) to one of :data:`SCHEMES`."""
    key = name.lower().replace("-", "")
    key = ALIASES.get(key, key)
    if key not in SCHEMES:
        choices = ", ".join(SCHEMES)
        raise ValueError(f"unknown tag scheme {name!r}; choose one of {choices}")
    return key


def split_tag(tag: str) -> tuple[str, str] | None:
    """``"B-PER"`` -> ``("B", "PER")``; ``"O"`` -> None; raises ValueError when malformed."""
    if tag == "O":
        return None
    prefix, sep, label = tag.partition("-")
    if not sep or not label or prefix not in _ALL_PREFIXES:
        raise ValueError(
            f"tag {tag!r} is not O nor a B-/I-/M-/E-/S-/L-/U- prefix followed by a type"
        )
    return prefix, label


def detect_scheme(sentences: Iterable[Sequence[str]]) -> str:
    """Guess the scheme of tagged sentences from the prefixes used and where ``B-`` appears.

    ``M-`` means BMES (or BMEO), ``E-``/``S-`` without ``M-`` BIOES, ``L-``/``U-`` BILOU. Otherwise a ``B-`` that does not
    directly follow an entity of its own type means IOB2; ``B-`` only after the same
    type, with entities opened by ``I-``, means IOB1; no ``B-`` at all means IO (which
    decodes exactly as IOB1 would). Tags must already be valid for :func:`split_tag`.
    """
    families: set[str] = set()
    fresh_b = 0
    any_b = False
    for tags in sentences:
        previous: tuple[str, str] | None = None
        for tag in tags:
            parsed = split_tag(tag)
            if parsed is not None:
                prefix, label = parsed
                if prefix == "M":
                    families.add("bmes")
                elif prefix in "ES":
                    families.add("bioes")
                elif prefix in "LU":
                    families.add("bilou")
                elif prefix == "B":
                    any_b = True
                    if previous is None or previous[1] != label:
                        fresh_b += 1
            previous = parsed
    if "bmes" in families:
        families.discard("bioes")  # E-/S- belong to BMES too
    if len(families) > 1:
        raise ValueError("the tags mix BIOES/BMES (E-/S-/M-) and BILOU (L-/U-) prefixes")
    if families:
        return families.pop()
    if fresh_b:
        return "iob2"
    return "iob1" if any_b else "io"


def tags_to_spans(tags: Sequence[str], scheme: str) -> tuple[list[WordSpan], list[int]]:
    """Decode one sentence's tags; returns the spans and the positions of repaired tags.

    Ill-formed continuations (an ``I-``/``E-``/``L-`` that does not continue an open
    entity of its type) are repaired the usual way: they start an entity. An entity
    left open in BIOES/BILOU (``B-`` without ``E-``/``L-``) is closed where it stops.
    Both count as repairs. A prefix outside ``scheme`` raises :class:`TagError`. BMES is
    decoded as BIOES with ``M-`` for ``I-`` (so in BMEO a lone ``B-`` is a one-word entity,
    counted as a repair).
    """
    if scheme == "bmes":
        for i, tag in enumerate(tags):
            if tag.startswith("I-"):
                raise TagError(i, f"tag {tag!r} is outside the BMES scheme")
        tags = [f"I-{tag[2:]}" if tag.startswith("M-") else tag for tag in tags]
        scheme = "bioes"
    allowed = _PREFIXES[scheme]
    single, last = ("S", "E") if scheme == "bioes" else ("U", "L")
    closing_scheme = scheme in ("bioes", "bilou")
    spans: list[WordSpan] = []
    repairs: list[int] = []
    open_start: int | None = None
    open_label = ""
    # For BIOES/BILOU: whether the open entity still expects an end tag.
    expects_end = False

    def close(end: int) -> None:
        nonlocal open_start
        if open_start is not None:
            spans.append(WordSpan(open_start, end, open_label))
            open_start = None

    for i, tag in enumerate(tags):
        try:
            parsed = split_tag(tag)
        except ValueError as error:
            raise TagError(i, str(error)) from None
        if parsed is None:
            if closing_scheme and expects_end:
                repairs.append(i - 1)
            close(i)
            expects_end = False
            continue
        prefix, label = parsed
        if prefix not in allowed:
            raise TagError(i, f"tag {tag!r} is outside the {scheme.upper()} scheme")
        continues = open_start is not None and open_label == label
        if closing_scheme:
            continues = continues and expects_end
            if prefix == "B" or prefix == single:
                if expects_end:
                    repairs.append(i - 1)
                close(i)
                open_start, open_label = i, label
                expects_end = prefix == "B"
                if prefix == single:
                    close(i + 1)
            else:  # "I" or the closing prefix
                if not continues:
                    if expects_end:
                        repairs.append(i - 1)
                    repairs.append(i)
                    close(i)
                    open_start, open_label = i, label
                expects_end = prefix == "I"
                if prefix == last:
                    close(i + 1)
            continue
        if prefix == "B":
            close(i)
            open_start, open_label = i, label
        elif not continues:
            if scheme == "iob2":
                repairs.append(i)
            close(i)
            open_start, open_label = i, label
    if closing_scheme and expects_end:
        repairs.append(len(tags) - 1)
    close(len(tags))
    return spans, repairs


def spans_to_tags(spans: Iterable[WordSpan], length: int, scheme: str) -> list[str]:
    """Encode non-overlapping word spans of a sentence of ``length`` words as tags."""
    if scheme not in WRITABLE_SCHEMES:
        raise ValueError(
            f"cannot write the {scheme.upper()} scheme losslessly; "
            f"choose one of {', '.join(WRITABLE_SCHEMES)}"
        )
    tags = ["O"] * length
    previous_end = -1
    previous_label = ""
    for span in sorted(spans, key=lambda s: s.start):
        if span.start < previous_end:
            raise ValueError(f"entities overlap at word {span.start}")
        size = span.end - span.start
        if scheme == "iob1":
            adjacent = span.start == previous_end and span.label == previous_label
            first = "B" if adjacent else "I"
            tags[span.start : span.end] = [f"{first}-{span.label}"] + [f"I-{span.label}"] * (
                size - 1
            )
        elif scheme == "iob2":
            tags[span.start : span.end] = [f"B-{span.label}"] + [f"I-{span.label}"] * (size - 1)
        else:
            single, last = ("U", "L") if scheme == "bilou" else ("S", "E")
            inside = "M" if scheme == "bmes" else "I"
            if size == 1:
                tags[span.start] = f"{single}-{span.label}"
            else:
                tags[span.start : span.end] = (
                    [f"B-{span.label}"]
                    + [f"{inside}-{span.label}"] * (size - 2)
                    + [f"{last}-{span.label}"]
                )
        previous_end, previous_label = span.end, span.label
    return tags
