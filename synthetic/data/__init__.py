"""CSV catalogues of the generator (a package only so that wheels ship the files)."""
