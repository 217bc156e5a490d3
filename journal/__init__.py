"""journal stage of enjournal."""
