"""PR-gated promotion dev -> stage -> prod: release files, the local registry copy, checks."""
