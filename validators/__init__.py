"""validators stage of enjournal."""
