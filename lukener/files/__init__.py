"""How lukener writes files: completely or not at all."""
