"""identity stage of enjournal."""
