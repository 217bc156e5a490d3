"""mappings stage of enjournal."""
