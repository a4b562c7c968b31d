"""The demo: illustrative accounts now; the whole pipeline as later issues land."""
