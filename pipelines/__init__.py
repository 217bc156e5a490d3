"""pipelines stage of enjournal."""
