"""The exact-match response cache: keys, backends, and replaying entries as streams."""
