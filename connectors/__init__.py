"""connectors stage of enjournal."""
