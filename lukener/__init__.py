"""lukener: named entity recognition with LUKE-style span classification."""

__version__ = "0.1.0"
