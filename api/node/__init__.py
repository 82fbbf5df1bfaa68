"""The participant node: its own key (encrypted at rest), signing, submitting, following, reconciling."""
