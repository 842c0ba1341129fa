"""lukener inside other libraries' pipelines (optional extras)."""
